import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus } from "./connect.js";
import { ensureStream, waitForStream } from "./stream.js";
import { createPublisher } from "./publisher.js";
import { startConsumer } from "./consumer.js";
import { parseConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { nextReconnect, startNatsServer, watchEvents } from "./testing/mod.js";
import { is } from "./codec.js";

const log = createLogger("test", "silent");

describe("bus (real nats-server)", () => {
  it("creates the stream idempotently with the configured limits", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    try {
      const jsm = await jetstreamManager(nc);
      const cfg = parseConfig({ stream: { maxBytes: 10 * 1024 * 1024 } }, { env: {} });
      await ensureStream(jsm, cfg.stream);
      await ensureStream(jsm, cfg.stream);
      await ensureStream(jsm, { ...cfg.stream, maxBytes: 20 * 1024 * 1024 });
      const info = await jsm.streams.info("VIGIL");
      assert.deepEqual(info.config.subjects, ["vigil.>"]);
      assert.equal(info.config.max_bytes, 20 * 1024 * 1024);
      assert.equal(info.config.duplicate_window, 120_000_000_000);
    } finally {
      await nc.close();
      await srv.cleanup();
    }
  });

  it("services starting at once on a fresh server all get the stream (no 'subjects overlap' from the race)", async () => {
    for (let round = 0; round < 5; round++) {
      const srv = await startNatsServer();
      const conns = await Promise.all(Array.from({ length: 6 }, (_, i) => connectBus({ url: srv.url }, `svc-${i}`)));
      try {
        const stream = parseConfig({}, { env: {} }).stream;
        const results = await Promise.allSettled(conns.map(async (nc) => ensureStream(await jetstreamManager(nc), stream)));
        const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
        assert.deepEqual(failed, [], `round ${round}`);
        assert.ok(results.every((r) => r.status === "fulfilled" && r.value === true));
      } finally {
        await Promise.all(conns.map((nc) => nc.close()));
        await srv.cleanup();
      }
    }
  });

  it("waitForStream: a service that may not create the stream waits for it, then goes on; a stop while waiting ends the wait", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    try {
      const jsm = await jetstreamManager(nc);
      const said: string[] = [];
      const waiting = waitForStream(jsm, "VIGIL", { log: { info: (_o, msg) => void said.push(msg) } });
      let done = false;
      void waiting.then(() => (done = true));
      // Its first look found nothing and it said so; it has not given up or created anything.
      while (said.length === 0) await new Promise((r) => setImmediate(r));
      assert.match(said[0]!, /waiting for the VIGIL stream/);
      assert.equal(done, false);
      await assert.rejects(jsm.streams.info("VIGIL"), /not found/i);
      await ensureStream(jsm, parseConfig({}, { env: {} }).stream);
      await waiting;
      assert.match(said.at(-1)!, /the stream is there/);

      const stop = new AbortController();
      const never = waitForStream(jsm, "OTHER", { signal: stop.signal });
      stop.abort(new Error("SIGTERM"));
      await assert.rejects(never, /SIGTERM/);
    } finally {
      await nc.close();
      await srv.cleanup();
    }
  });

  it("keeps events in the outbox while NATS is down and delivers them, in order and once, when it returns", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    const outboxDir = mkdtempSync(join(tmpdir(), "vigil-outbox-"));
    const pub = await createPublisher(nc, { device: "d1", source: "test", outboxDir, log });
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, parseConfig({}, { env: {} }).stream);
      const first = await pub.emit("obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 0 });
      assert.ok(first.seq, "published while online");
      await srv.stop();
      const queued = [];
      for (let i = 2; i <= 21; i++) queued.push(await pub.emit("obs.worker.stable", { worker: "w", pid: i, uptimeMs: i }));
      assert.ok(queued.every((r) => r.queued), "queued while offline");
      assert.equal(pub.pending(), 20);
      const reconnected = nextReconnect(nc);
      await srv.restart();
      await reconnected;
      const watch = await watchEvents(nc);
      const all = await watch.waitForCount("worker.stable", (e) => is(e, "obs.worker.stable"), 21, 15_000);
      assert.deepEqual(all.map((e) => (e.data as { pid: number }).pid), Array.from({ length: 21 }, (_, i) => i + 1));
      await pub.flush();
      assert.equal(pub.pending(), 0);
      // Flushing the same event again (a crash between send and delete) is dropped by the duplicate window.
      const again = await pub.publish(queued[0]!.event);
      assert.equal(again.duplicate, true, JSON.stringify(again));
      await watch.close();
    } finally {
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("dead-letters malformed messages with the reason and keeps consuming", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    const pub = await createPublisher(nc, { device: "d1", source: "test", log });
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, parseConfig({}, { env: {} }).stream);
      const handled: string[] = [];
      const consumer = await startConsumer(nc, {
        stream: "VIGIL", durable: "t", filterSubject: "vigil.d1.obs.>", deadLetters: pub, log,
        handler: async (e) => { handled.push(String((e.data as { pid: number }).pid)); },
      });
      nc.publish("vigil.d1.obs.worker.stable", new TextEncoder().encode("{not json"));
      nc.publish("vigil.d1.obs.worker.stable", new TextEncoder().encode(JSON.stringify({ specversion: "1.0" })));
      await pub.emit("obs.worker.stable", { worker: "w", pid: 7, uptimeMs: 0 });
      const watch = await watchEvents(nc);
      const dls = await watch.waitForCount("dead letters", (e) => is(e, "sys.deadletter"), 2);
      assert.match((dls[0]!.data as { reason: string }).reason, /not JSON/);
      assert.match((dls[1]!.data as { reason: string }).reason, /not a Vigil CloudEvent/);
      assert.equal((dls[0]!.data as { payload: string }).payload, "{not json");
      await watch.waitFor("valid event handled", () => handled.includes("7"));
      assert.deepEqual(consumer.stats(), { handled: 1, deadLettered: 2, failed: 0 });
      await consumer.stop();
      await watch.close();
    } finally {
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("a flood of bad payloads past the dead-letter rate: every message is accounted for by its sequence, once (one each or in a summary), and none is acked silently", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    const pub = await createPublisher(nc, { device: "d1", source: "test", log });
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, parseConfig({}, { env: {} }).stream);
      const js = jetstream(nc);
      const bad: number[] = [];
      for (let i = 0; i < 60; i++) bad.push((await js.publish("vigil.d1.obs.worker.stable", new TextEncoder().encode(`{garbage ${i}`))).seq);
      const watch = await watchEvents(nc, { filter: "vigil.d1.sys.deadletter" });
      const consumer = await startConsumer(nc, { stream: "VIGIL", durable: "flood", filterSubject: "vigil.d1.obs.>", deadLetters: pub, log, deadLetterRate: 5, handler: async () => undefined });
      const seen = new Map<number, number>();
      const accounted = () => {
        seen.clear();
        for (const e of watch.events) {
          if (!is(e, "sys.deadletter") || e.data.consumer !== "flood") continue;
          for (const s of e.data.streamSeqs ?? (e.data.streamSeq === undefined ? [] : [e.data.streamSeq])) seen.set(s, (seen.get(s) ?? 0) + 1);
        }
        return seen.size;
      };
      await watch.waitFor("every bad payload dead-lettered", () => accounted() >= bad.length, 20_000);
      assert.deepEqual([...seen.keys()].sort((a, b) => a - b), bad, "each refused message named by its sequence");
      assert.ok([...seen.values()].every((n) => n === 1), "none dead-lettered twice");
      assert.ok(watch.events.some((e) => is(e, "sys.deadletter") && (e.data.streamSeqs?.length ?? 0) > 1), "past the rate, a summary names several");
      await consumer.stop();
      await watch.close();
    } finally {
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
