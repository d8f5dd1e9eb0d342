import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connectBus, ensureStream, is, parseConfig, type NatsConnection } from "@vigil/events";
import { freePort, startNatsServer, watchEvents, type EventLog, type TestNatsServer } from "@vigil/events/testing";
import { startSink, type Sink } from "@vigil/sink";
import { publishMany, rssMb, spawnTelemetry, TEST_SECRET, type TelemetryProcess } from "./test-helpers.js";

interface Rig {
  srv: TestNatsServer;
  nc: NatsConnection;
  jsm: JetStreamManager;
  device: string;
  sinkDir: string;
  events: EventLog;
  cleanups: Array<() => Promise<unknown>>;
}

/** A real nats-server with the VIGIL stream, a connection, a watch on telemetry's own events. */
async function rig(device: string, stream: Record<string, unknown> = {}): Promise<Rig> {
  const srv = await startNatsServer();
  const nc = await connectBus({ url: srv.url }, "test");
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureStream(jsm, parseConfig({ stream }).stream);
  const events = await watchEvents(nc, { filter: `vigil.${device}.sys.>` });
  const sinkDir = mkdtempSync(join(tmpdir(), "vigil-sink-"));
  return { srv, nc, jsm, device, sinkDir, events, cleanups: [] };
}

async function teardown(r: Rig, procs: TelemetryProcess[], sinks: Array<Sink | undefined>): Promise<void> {
  for (const p of procs) await p.stop();
  for (const s of sinks) await s?.close().catch(() => undefined);
  await r.events.close();
  await r.nc.close();
  await r.srv.cleanup();
  rmSync(r.sinkDir, { recursive: true, force: true });
  for (const p of procs) rmSync(p.dataDir, { recursive: true, force: true });
}

/** Every stored test event (worker "load"), checking per-batch stream order on the way. */
async function storedLoad(sink: Sink): Promise<{ ids: Set<string>; counters: number[] }> {
  const ids = new Set<string>();
  const counters: number[] = [];
  for await (const b of sink.store.batches()) {
    let prev = -1;
    for (const e of b.events) {
      const d = e.data as { worker?: string; uptimeMs?: number };
      if (d.worker !== "load") continue;
      assert.ok(!ids.has(e.id), `event ${e.id} stored twice`);
      ids.add(e.id);
      assert.ok(d.uptimeMs! > prev, `batch ${b.batch}: event #${d.uptimeMs} after #${prev} (not in stream order)`);
      prev = d.uptimeMs!;
      counters.push(d.uptimeMs!);
    }
    if (b.firstSeq !== undefined && b.lastSeq !== undefined) assert.ok(b.firstSeq <= b.lastSeq, `batch ${b.batch} seq range`);
  }
  return { ids, counters };
}

const FAST_BREAKER = { errorThresholdPercentage: 50, volumeThreshold: 1, rollingWindowMs: 10_000, resetTimeoutMs: 500 };
/** Forward only observations, so the sink's counts are exactly the test's events (telemetry's own sys events stay local). */
const OBS_ONLY = (device: string) => `vigil.${device}.obs.>`;

test("100,000 events published while the cloud refuses connections all arrive once, in stream order, when it returns", async () => {
  const r = await rig("dev-outage");
  const port = await freePort(); // nothing listens here yet: connection refused
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device: r.device, telemetry: { url: `http://127.0.0.1:${port}/v1/events`, secret: TEST_SECRET, filter: OBS_ONLY(r.device), breaker: FAST_BREAKER, retryBaseMs: 50, heartbeatSeconds: 1 } });
  let sink: Sink | undefined;
  try {
    await publishMany(r.nc, r.device, 100_000);
    const opened = await r.events.waitFor("breaker opened", (e) => is(e, "sys.telemetry.breaker.opened"), 15_000);
    assert.match((opened.data as { reason: string }).reason, /refused/);
    const backlog = await r.jsm.consumers.info("VIGIL", "telemetry");
    assert.ok(backlog.num_pending + backlog.num_ack_pending >= 100_000 - 2_000, `events wait in the stream (pending ${backlog.num_pending})`);

    sink = await startSink({ port, dataDir: r.sinkDir, secret: TEST_SECRET });
    const s = sink;
    await r.events.waitFor("breaker closed", (e) => is(e, "sys.telemetry.breaker.closed"), 15_000);
    const c = await s.waitFor("the backlog drained", (c) => c.stored >= 100_000, 45_000);
    const { ids, counters } = await storedLoad(s);
    assert.equal(ids.size, 100_000, "every published event stored");
    assert.equal(new Set(counters).size, 100_000);
    assert.equal(c.stored, c.received - c.duplicates, "no event stored twice");
    const info = await r.jsm.consumers.info("VIGIL", "telemetry");
    assert.ok(info.ack_floor.stream_seq >= 100_000, "acked after the cloud confirmed");
  } finally {
    await teardown(r, [tel], [sink]);
  }
});

test("kill -9 of telemetry in the middle of the drain: after a restart everything is delivered, re-sent events are counted, none stored twice", async () => {
  const r = await rig("dev-crash");
  const N = 60_000;
  const sink = await startSink({ dataDir: r.sinkDir, secret: TEST_SECRET });
  const cfg = { url: sink.url, secret: TEST_SECRET, filter: OBS_ONLY(r.device), breaker: FAST_BREAKER, retryBaseMs: 50, heartbeatSeconds: 1, batchMaxEvents: 500 };
  await publishMany(r.nc, r.device, N);
  const first = spawnTelemetry({ natsUrl: r.srv.url, device: r.device, telemetry: cfg });
  let second: TelemetryProcess | undefined;
  try {
    // Kill it right after the sink stored a batch and before telemetry can read the answer and ack:
    // that batch must be sent again and recognised as a repeat.
    const killed = new Promise<number>((resolve) => {
      const off = sink.store.onChange((c) => {
        if (c.stored >= N / 3) {
          off();
          first.child.kill("SIGKILL");
          resolve(c.stored);
        }
      });
    });
    const storedAtKill = await killed;
    const exit = await first.exited;
    assert.equal(exit.signal, "SIGKILL");
    assert.ok(storedAtKill < N, "killed in the middle of the drain");

    second = spawnTelemetry({ natsUrl: r.srv.url, device: r.device, telemetry: cfg, dataDir: first.dataDir });
    const c = await sink.waitFor(`all ${N} delivered`, (c) => c.stored >= N, 40_000);
    assert.ok(c.duplicates >= 1, `the batch in flight at the kill was re-sent and counted as a duplicate (duplicates ${c.duplicates})`);
    const { ids } = await storedLoad(sink);
    assert.equal(ids.size, N, "every event stored exactly once");
    const hb = await r.events.waitFor("a heartbeat reporting the re-sent events", (e) => is(e, "sys.telemetry.heartbeat") && e.data.resent >= 1, 10_000);
    assert.ok((hb.data as { resent: number }).resent >= 1);
  } finally {
    await teardown(r, second ? [first, second] : [first], [sink]);
  }
});

test("a backlog's last, partial batch is sent at once, not after batchMaxWaitMs (the pull asks for what is left)", async () => {
  const r = await rig("dev-tail");
  const sink = await startSink({ dataDir: r.sinkDir, secret: TEST_SECRET });
  await publishMany(r.nc, r.device, 1_500);
  // A pull for a full batch would hold the last 500 events for 10 s; the whole backlog must be in well before.
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device: r.device, telemetry: { url: sink.url, secret: TEST_SECRET, filter: OBS_ONLY(r.device), batchMaxEvents: 1_000, batchMaxWaitMs: 10_000 } });
  try {
    await tel.waitForLog(/"forwarding"/, 15_000);
    const c = await sink.waitFor("all 1500 stored before the 10 s pull would have ended", (c) => c.stored >= 1_500, 7_000);
    assert.equal(c.stored, 1_500);
    assert.equal(c.batches, 2, "a full batch, then the rest");
  } finally {
    await teardown(r, [tel], [sink]);
  }
});

test("a cloud failing 30 % of requests with 503 still gets every event", async () => {
  const r = await rig("dev-flaky");
  const N = 20_000;
  const sink = await startSink({ dataDir: r.sinkDir, secret: TEST_SECRET, faults: { errorRate: 0.3, status: 503 } });
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device: r.device, telemetry: { url: sink.url, secret: TEST_SECRET, filter: OBS_ONLY(r.device), breaker: FAST_BREAKER, retryBaseMs: 20, retryCapMs: 200, batchMaxEvents: 500 } });
  try {
    await publishMany(r.nc, r.device, N);
    const c = await sink.waitFor(`all ${N} delivered`, (c) => c.stored >= N, 45_000);
    assert.ok(c.faulted > 0, "some requests were refused with 503");
    const { ids } = await storedLoad(sink);
    assert.equal(ids.size, N);
    await r.events.waitFor("the failures were reported", (e) => is(e, "sys.telemetry.upload.failed") && e.data.status === 503, 5_000);
  } finally {
    await teardown(r, [tel], [sink]);
  }
});

test("a cloud that accepts and never answers: timeouts open the breaker, memory stays flat, the backlog drains when it answers again", async () => {
  const r = await rig("dev-hang");
  const N = 20_000;
  const sink = await startSink({ dataDir: r.sinkDir, secret: TEST_SECRET, faults: { hang: true } });
  const tel = spawnTelemetry({
    natsUrl: r.srv.url,
    device: r.device,
    telemetry: { url: sink.url, secret: TEST_SECRET, filter: OBS_ONLY(r.device), requestTimeoutMs: 300, breaker: { ...FAST_BREAKER, volumeThreshold: 2, resetTimeoutMs: 400 }, retryBaseMs: 20 },
  });
  try {
    await publishMany(r.nc, r.device, N);
    const opened = await r.events.waitFor("breaker opened", (e) => is(e, "sys.telemetry.breaker.opened"), 15_000);
    assert.match((opened.data as { reason: string }).reason, /no answer within 300 ms/);
    const before = sink.counts().faulted;
    const rssAtOpen = rssMb(tel.child.pid!);
    // Ten more half-open probes, each hanging until telemetry gives up on it.
    await sink.waitFor("ten more probes", (c) => c.faulted >= before + 10, 20_000);
    const rssLater = rssMb(tel.child.pid!);
    assert.ok(rssLater - rssAtOpen < 25, `memory stays flat while the cloud hangs (${rssAtOpen.toFixed(1)} → ${rssLater.toFixed(1)} MB)`);
    assert.ok(sink.hanging() <= 2, `timed-out requests are not left open (${sink.hanging()} hanging)`);
    assert.equal(sink.counts().stored, 0);

    sink.setFaults({});
    await r.events.waitFor("breaker closed", (e) => is(e, "sys.telemetry.breaker.closed"), 10_000);
    await sink.waitFor(`all ${N} delivered`, (c) => c.stored >= N, 30_000);
    const { ids } = await storedLoad(sink);
    assert.equal(ids.size, N);
  } finally {
    await teardown(r, [tel], [sink]);
  }
});

test("a wrong secret: the cloud answers 401, nothing is acked, an event says why", async () => {
  const r = await rig("dev-secret");
  const sink = await startSink({ dataDir: r.sinkDir, secret: TEST_SECRET });
  const tel = spawnTelemetry({ natsUrl: r.srv.url, device: r.device, telemetry: { url: sink.url, secret: "not-the-right-secret-at-all", breaker: FAST_BREAKER, retryBaseMs: 20 } });
  try {
    await publishMany(r.nc, r.device, 1_000);
    const failed = await r.events.waitFor("upload failed with 401", (e) => is(e, "sys.telemetry.upload.failed") && e.data.status === 401, 15_000);
    assert.match((failed.data as { error: string }).error, /credentials.*telemetry\.secret/);
    await sink.waitFor("a few refused attempts", (c) => c.unauthorized >= 2, 10_000);
    const info = await r.jsm.consumers.info("VIGIL", "telemetry");
    assert.equal(info.ack_floor.stream_seq, 0, "nothing acked");
    assert.ok(info.num_pending + info.num_ack_pending >= 1_000, "everything still waits in the stream");
    assert.equal(sink.counts().stored, 0);
  } finally {
    await teardown(r, [tel], [sink]);
  }
});

test("a stream too small for the outage: the discarded events are reported with their count", async () => {
  const r = await rig("dev-small", { maxBytes: 1024 * 1024, discard: "old" });
  const N = 12_000; // ~4 MB of events into a 1 MiB stream
  const port = await freePort();
  const tel = spawnTelemetry({
    natsUrl: r.srv.url,
    device: r.device,
    stream: { maxBytes: 1024 * 1024, discard: "old" },
    telemetry: { url: `http://127.0.0.1:${port}/v1/events`, secret: TEST_SECRET, breaker: FAST_BREAKER, retryBaseMs: 50, batchMaxEvents: 200, heartbeatSeconds: 0.5 },
  });
  let sink: Sink | undefined;
  try {
    await r.events.waitFor("breaker opened", (e) => is(e, "sys.telemetry.breaker.opened"), 15_000);
    await publishMany(r.nc, r.device, N);
    const si = await r.jsm.streams.info("VIGIL");
    assert.ok(si.state.first_seq > 1000, "the stream dropped its oldest events");
    sink = await startSink({ port, dataDir: r.sinkDir, secret: TEST_SECRET });
    await r.events.waitFor("loss reported", (e) => is(e, "sys.telemetry.lost"), 20_000);
    // Drained: a heartbeat after the sink came back says nothing is left.
    const drainedAt = Date.now();
    await r.events.waitFor("the rest delivered", (e) => is(e, "sys.telemetry.heartbeat") && e.data.backlog === 0 && e.data.breaker === "closed" && Date.parse(e.time) > drainedAt, 30_000);
    const reports = r.events.events.filter((e) => is(e, "sys.telemetry.lost")).map((e) => e.data as { count: number; fromSeq: number; toSeq: number; reason: string });
    const reported = reports.reduce((n, d) => n + d.count, 0);
    const d = reports[0]!;
    assert.match(d.reason, /discarded/);
    const { ids } = await storedLoad(sink);
    const missing = N - ids.size;
    assert.ok(missing > 0);
    // Everything still in the stream arrived; what did not arrive was reported as lost, with its count.
    assert.ok(reported >= missing, `reported ${reported} lost, ${missing} test events missing`);
    assert.ok(reported - missing <= 10, `the count is exact up to telemetry's own few early events (reported ${reported}, missing ${missing})`);
    for (const g of reports) assert.equal(g.toSeq - g.fromSeq + 1, g.count);
  } finally {
    await teardown(r, [tel], [sink]);
  }
});
