// The publisher holding events for the durability barrier (VIGIL_DURABILITY=barrier under vigil up):
// the outbox put rides with the send (issue 13), and still every event whose publish() resolved is
// in the outbox, synced, until a barrier announcement covers its stream sequence.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Level } from "level";
import { connectBus } from "./connect.js";
import { ensureStream } from "./stream.js";
import { createPublisher, durabilitySubjects } from "./publisher.js";
import { parseConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startNatsServer, watchEvents } from "./testing/mod.js";
import { is } from "./codec.js";

const log = createLogger("test", "silent");
const until = async (what: string, pred: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("publisher holding events until the durability barrier (real nats-server)", () => {
  it("publishes in order, keeps each acknowledged event until a barrier covers it, and a restart re-publishes only the uncovered ones", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    const outboxDir = mkdtempSync(join(tmpdir(), "vigil-outbox-hold-"));
    const stream = parseConfig({}, { env: {} }).stream;
    await ensureStream(await jetstreamManager(nc), stream);
    const watch = await watchEvents(nc);
    const pub = await createPublisher(nc, { device: "d1", source: "test", outboxDir, log, holdUntilDurable: true });
    let reopened: Awaited<ReturnType<typeof createPublisher>> | undefined;
    try {
      // Concurrent publishes, as the supervisor's exit and start events are: their order on the stream is the call order.
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pub.emit("obs.worker.stable", { worker: "w", pid: i + 1, uptimeMs: i })));
      const seqs = results.map((r) => r.seq!);
      assert.ok(results.every((r) => typeof r.seq === "number" && !r.queued), JSON.stringify(results.slice(0, 2)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "stream order is the call order");
      const seen = await watch.waitForCount("stable", (e) => is(e, "obs.worker.stable"), 20, 10_000);
      assert.deepEqual(seen.map((e) => (e.data as { pid: number }).pid), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(pub.held(), 20, "every acknowledged event is held until a barrier covers it");
      assert.equal(pub.pending(), 0);

      // A barrier that covers the first ten.
      nc.publish(durabilitySubjects("d1").announce, JSON.stringify({ stream: stream.name, seq: seqs[9], created: "c1" }));
      await until("the barrier to release ten events", () => pub.held() === 10);
      // A stop with no barrier answering keeps the other ten in the outbox (synced: publish() had resolved).
      await pub.close();

      // Serialised once: the text kept in the outbox is the payload the stream stored.
      const box = new Level<string, string>(outboxDir, { valueEncoding: "utf8" });
      const kept = await box.values().all();
      await box.close();
      const jsm = await jetstreamManager(nc);
      const stored = await Promise.all(seqs.slice(10).map(async (seq) => new TextDecoder().decode((await jsm.streams.getMessage(stream.name, { seq }))!.data)));
      assert.deepEqual(kept, stored);

      reopened = await createPublisher(nc, { device: "d1", source: "test", outboxDir, log, holdUntilDurable: false });
      assert.equal(reopened.pending(), 10, "the ten not covered by a barrier are re-published after a restart");
      await reopened.flush();
      assert.equal(reopened.pending(), 0);
      const info = await (await jetstreamManager(nc)).streams.info(stream.name);
      assert.equal(info.state.messages, 20, "the re-published ten were dropped by the duplicate window");
    } finally {
      await watch.close();
      await reopened?.close();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("an event published while the bus is down is queued in the outbox and sent when it returns", async () => {
    const srv = await startNatsServer();
    const nc = await connectBus({ url: srv.url }, "t");
    const outboxDir = mkdtempSync(join(tmpdir(), "vigil-outbox-hold-"));
    await ensureStream(await jetstreamManager(nc), parseConfig({}, { env: {} }).stream);
    const pub = await createPublisher(nc, { device: "d1", source: "test", outboxDir, log, holdUntilDurable: true, timeoutMs: 500 });
    try {
      await srv.stop();
      const r = await pub.emit("obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 0 });
      assert.equal(r.queued, true, JSON.stringify(r));
      assert.equal(pub.pending(), 1);
      await srv.restart();
      await until("the queued event to be sent", () => pub.pending() === 0, 20_000);
      assert.equal(pub.held(), 1, "sent from the outbox and held there until a barrier");
    } finally {
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
