import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "@vigil/events";

test("given no telemetry section, then telemetry has sane defaults and no url (idle)", () => {
  const t = parseConfig({}, { env: {} }).telemetry;
  assert.equal(t.url, undefined);
  assert.equal(t.batchMaxEvents, 1000);
  assert.equal(t.gzip, true);
  assert.equal(t.heartbeatSeconds, 5);
  assert.deepEqual(t.downsample, { "obs.health.sample": 10 });
  assert.equal(t.breaker.resetTimeoutMs, 5000);
});

test("given a url without a secret, then the error names telemetry.secret", () => {
  assert.throws(() => parseConfig({ telemetry: { url: "https://cloud.example.com/v1/events" } }, { env: {} }), (err: unknown) => err instanceof ConfigError && /telemetry\.secret: is required/.test(err.message));
});

test("given bad values, then each error names its field", () => {
  const bad = (telemetry: unknown, field: RegExp) =>
    assert.throws(() => parseConfig({ telemetry }, { env: {} }), (err: unknown) => err instanceof ConfigError && field.test(err.message), JSON.stringify(telemetry));
  bad({ url: "ftp://x", secret: "0123456789abcdef" }, /telemetry\.url/);
  bad({ secret: "short" }, /telemetry\.secret/);
  bad({ batchMaxWaitMs: 200 }, /telemetry\.batchMaxWaitMs: must be at least 1000/);
  bad({ tls: { cert: "c.pem" } }, /telemetry\.tls: cert and key must be given together/);
  bad({ breaker: { resetTimeout: 5 } }, /telemetry\.breaker/);
  bad({ bogus: 1 }, /telemetry/);
});

test("given VIGIL_TELEMETRY_URL and VIGIL_TELEMETRY_SECRET, then they override the file", () => {
  const t = parseConfig({ telemetry: { url: "https://a.example/x", secret: "file-secret-0123456789" } }, { env: { VIGIL_TELEMETRY_URL: "http://127.0.0.1:9/v1/events", VIGIL_TELEMETRY_SECRET: "env-secret-0123456789" } }).telemetry;
  assert.equal(t.url, "http://127.0.0.1:9/v1/events");
  assert.equal(t.secret, "env-secret-0123456789");
});
