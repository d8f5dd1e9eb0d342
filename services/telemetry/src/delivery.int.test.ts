import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, encodeEvent, ensureStream, is, makeEvent, parseConfig } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { startSink } from "@vigil/sink";
import { publishMany, spawnTelemetry, TEST_SECRET } from "./test-helpers.js";

async function rig(device: string) {
  const srv = await startNatsServer();
  const nc = await connectBus({ url: srv.url }, "test");
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureStream(jsm, parseConfig({}).stream);
  const events = await watchEvents(nc, { filter: `vigil.${device}.sys.>` });
  const dir = mkdtempSync(join(tmpdir(), "vigil-delivery-"));
  return {
    srv,
    nc,
    jsm,
    events,
    dir,
    async close() {
      await events.close();
      await nc.close();
      await srv.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("events the cloud refuses are found by bisection and dead-lettered with the reason; the rest of the batch is delivered", async () => {
  const device = "dev-bisect";
  const r = await rig(device);
  const sink = await startSink({ dataDir: join(r.dir, "sink"), secret: TEST_SECRET });
  const js = jetstream(r.nc);
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const e = makeEvent(device, `vigil/${device}/test`, "obs.worker.stable", { worker: "load", pid: 1, uptimeMs: i });
    ids.push(e.id);
    await js.publish(e.subject, encodeEvent(e), { msgID: e.id });
    // A payload that is not even JSON, in the middle of the batch.
    if (i === 200) await js.publish(`vigil.${device}.obs.worker.stable`, new TextEncoder().encode("{oops"));
  }
  sink.setFaults({ rejectIds: [ids[137]!] });
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device, dataDir: join(r.dir, "tel"), telemetry: { url: sink.url, secret: TEST_SECRET, filter: `vigil.${device}.obs.>` } });
  try {
    const dls = await r.events.waitForCount("two dead letters", (e) => is(e, "sys.deadletter"), 2, 15_000);
    const reasons = dls.map((e) => (e.data as { reason: string; payload: string }));
    assert.ok(reasons.some((d) => /422: event .* refused/.test(d.reason) && d.payload.includes(ids[137]!)), JSON.stringify(reasons));
    assert.ok(reasons.some((d) => /not JSON/.test(d.reason) && d.payload === "{oops"), JSON.stringify(reasons));
    const c = await sink.waitFor("the other 299 stored", (c) => c.stored >= 299, 10_000);
    assert.equal(c.stored, 299);
    assert.equal(await sink.store.has(ids[137]!), false);
    assert.equal(await sink.store.has(ids[138]!), true);
  } finally {
    await tel.stop();
    await sink.close();
    await r.close();
  }
});

test("mTLS: with the client certificate the cloud accepts the batches; without it, nothing is acked and the failure is reported", async () => {
  const device = "dev-mtls";
  const r = await rig(device);
  const pki = join(r.dir, "pki");
  execFileSync("mkdir", ["-p", pki]);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: pki, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=vigil-test-ca");
  writeFileSync(join(pki, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const who of ["server", "client"]) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=${who === "server" ? "127.0.0.1" : device}`);
    ssl("x509", "-req", "-in", `${who}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.crt`, "-days", "1", ...(who === "server" ? ["-extfile", "server.ext"] : []));
  }
  const sink = await startSink({ dataDir: join(r.dir, "sink"), secret: TEST_SECRET, tls: { cert: join(pki, "server.crt"), key: join(pki, "server.key"), ca: join(pki, "ca.crt") } });
  assert.match(sink.url, /^https:/);
  const base = { url: sink.url, secret: TEST_SECRET, filter: `vigil.${device}.obs.>`, retryBaseMs: 50, breaker: { volumeThreshold: 1, resetTimeoutMs: 300 } };
  const noCert = spawnTelemetry({ natsUrl: r.srv.url, device, dataDir: join(r.dir, "tel1"), telemetry: { ...base, tls: { ca: join(pki, "ca.crt") } } });
  let withCert: ReturnType<typeof spawnTelemetry> | undefined;
  try {
    await publishMany(r.nc, device, 500);
    const failed = await r.events.waitFor("upload failed without a client certificate", (e) => is(e, "sys.telemetry.upload.failed"), 15_000);
    assert.ok((failed.data as { error: string }).error.length > 0);
    assert.equal(sink.counts().stored, 0);
    await noCert.stop();
    assert.equal((await r.jsm.consumers.info("VIGIL", "telemetry")).ack_floor.stream_seq, 0, "nothing acked");

    withCert = spawnTelemetry({
      natsUrl: r.srv.url,
      device,
      dataDir: join(r.dir, "tel2"),
      telemetry: { ...base, tls: { cert: join(pki, "client.crt"), key: join(pki, "client.key"), ca: join(pki, "ca.crt") } },
    });
    const c = await sink.waitFor("500 stored over mTLS", (c) => c.stored >= 500, 15_000);
    assert.equal(c.stored, 500);
  } finally {
    await noCert.stop();
    await withCert?.stop();
    await sink.close();
    await r.close();
  }
});

test("without telemetry.url the service says it is idle and forwards nothing", async () => {
  const device = "dev-idle";
  const r = await rig(device);
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device, dataDir: join(r.dir, "tel"), telemetry: {} });
  try {
    await r.events.waitFor("telemetry started", (e) => is(e, "sys.service.started") && e.data.service === "telemetry", 10_000);
    await tel.waitForLog(/telemetry is idle: no telemetry\.url configured/);
    await assert.rejects(r.jsm.consumers.info("VIGIL", "telemetry"), "no consumer is created");
  } finally {
    await tel.stop();
    await r.close();
  }
});

test("429 with Retry-After: telemetry waits as long as asked, without opening the breaker, then delivers", async () => {
  const device = "dev-429";
  const r = await rig(device);
  const sink = await startSink({ dataDir: join(r.dir, "sink"), secret: TEST_SECRET, faults: { errorRate: 1, status: 429, retryAfterS: 2 } });
  let throttledAt = 0;
  const off = sink.store.onChange((c) => {
    if (c.faulted === 1 && throttledAt === 0) {
      throttledAt = Date.now();
      sink.setFaults({}); // the next request would succeed at once: only Retry-After holds telemetry back
    }
  });
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device, dataDir: join(r.dir, "tel"), telemetry: { url: sink.url, secret: TEST_SECRET, filter: `vigil.${device}.obs.>`, retryBaseMs: 10, breaker: { volumeThreshold: 1 } } });
  try {
    await publishMany(r.nc, device, 100);
    await sink.waitFor("100 stored", (c) => c.stored >= 100, 15_000);
    const waited = Date.now() - throttledAt;
    assert.ok(waited >= 1_900, `waited ${waited} ms after a 429 asking for 2 s`);
    assert.equal(sink.counts().faulted, 1);
    assert.equal(r.events.events.filter((e) => is(e, "sys.telemetry.breaker.opened")).length, 0, "a 429 is not a breaker failure");
  } finally {
    off();
    await tel.stop();
    await sink.close();
    await r.close();
  }
});
