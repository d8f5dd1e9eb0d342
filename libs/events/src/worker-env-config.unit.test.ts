import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseConfig, telemetrySecret } from "./config.js";

const worker = (extra: object) => ({ workers: [{ name: "sensor", command: "node", ...extra }] });

describe("config: workers[].inheritEnv", () => {
  it("given names to pass through, then they are kept; absent, the list is empty", () => {
    assert.deepEqual(parseConfig(worker({ inheritEnv: ["SENSOR_PORT", "http_proxy"] }), { env: {} }).workers[0]!.inheritEnv, ["SENSOR_PORT", "http_proxy"]);
    assert.deepEqual(parseConfig(worker({}), { env: {} }).workers[0]!.inheritEnv, []);
  });

  it("given a VIGIL_* name, then a ConfigError names the field and the variable", () => {
    assert.throws(() => parseConfig(worker({ inheritEnv: ["PATH", "VIGIL_NATS_PASS"] }), { origin: "vigil.yaml", env: {} }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /vigil\.yaml: workers\[0\]\.inheritEnv\[1\]: "VIGIL_NATS_PASS": VIGIL_\* variables are Vigil's own/);
      return true;
    });
  });

  it("given something that is no variable name, then a ConfigError names the field", () => {
    assert.throws(() => parseConfig(worker({ inheritEnv: ["A=B"] }), { env: {} }), /workers\[0\]\.inheritEnv\[0\]: must be an environment variable name/);
  });
});

describe("config: telemetry.secretFile", () => {
  it("given a url and only a secret file, then the config is valid and only telemetrySecret reads the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-secret-"));
    writeFileSync(join(dir, "t.secret"), "0123456789abcdef0123\n", { mode: 0o600 });
    const c = parseConfig({}, { configDir: dir, env: { VIGIL_TELEMETRY_URL: "http://127.0.0.1:9/v1/events", VIGIL_TELEMETRY_SECRET_FILE: "t.secret" } });
    assert.equal(c.telemetry.secret, undefined, "loading the config does not read the secret");
    assert.equal(telemetrySecret(c), "0123456789abcdef0123");
  });

  it("given a url with neither, then the error names telemetry.secret; a missing or short file names telemetry.secretFile", () => {
    assert.throws(() => parseConfig({ telemetry: { url: "https://a.example/x" } }, { env: {} }), /telemetry\.secret: is required when telemetry\.url is set/);
    const dir = mkdtempSync(join(tmpdir(), "vigil-secret-"));
    writeFileSync(join(dir, "short"), "abc");
    const short = parseConfig({ telemetry: { url: "https://a.example/x", secretFile: "short" } }, { configDir: dir, env: {} });
    assert.throws(() => telemetrySecret(short), /telemetry\.secretFile: .*short must hold a secret of at least 16 characters/);
    const missing = parseConfig({ telemetry: { url: "https://a.example/x", secretFile: "nope" } }, { configDir: dir, env: {} });
    assert.throws(() => telemetrySecret(missing), /telemetry\.secretFile: cannot read .*nope: ENOENT/);
  });
});
