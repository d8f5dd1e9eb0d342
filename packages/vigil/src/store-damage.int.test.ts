import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, truncateSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus } from "@vigil/events";
import { startNatsServer } from "@vigil/events/testing";
import { scanBlock, setAsideDamagedBlocks } from "./store-damage.js";

/** A real 2.9 store: stream T with `n` messages in one block, the server then killed -9 (no clean close). */
async function filledStore(n: number) {
  const srv = await startNatsServer();
  const nc = await connectBus({ url: srv.url }, "store-damage-test");
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await jsm.streams.add({ name: "T", subjects: ["t.>"] });
  const js = jetstream(nc);
  for (let i = 1; i <= n; i++) await js.publish("t.x", `message ${i} ${"y".repeat(100)}`);
  await nc.close();
  await srv.kill();
  const blk = join(srv.storeDir, "jetstream", "$G", "streams", "T", "msgs", "1.blk");
  const state = async () => {
    await srv.restart();
    const c = await connectBus({ url: srv.url }, "store-damage-test");
    const s = (await (await jetstreamManager(c, { checkAPI: false })).streams.info("T")).state;
    await c.close();
    return s;
  };
  return { srv, blk, state };
}

describe("torn store files on nats-server 2.9 (real server)", () => {
  it("a block cut short: the count and range reported lost are what the server drops at start, and the original is kept aside", async () => {
    const s = await filledStore(200);
    try {
      const whole = scanBlock(readFileSync(s.blk));
      assert.deepEqual([whole.records, whole.firstSeq, whole.lastSeq, whole.damage], [200, 1, 200, undefined], "the framing of the server's own block reads whole");
      assert.deepEqual(setAsideDamagedBlocks(s.srv.storeDir, join(s.srv.storeDir, "..", "aside-none"), () => 200), []);
      const size = readFileSync(s.blk).length;
      truncateSync(s.blk, Math.floor(size * 0.7)); // a power cut mid-write, on a disk without LazyFS's whole-write semantics
      const aside = mkdtempSync(join(tmpdir(), "vigil-aside-"));
      const [d, more] = setAsideDamagedBlocks(s.srv.storeDir, aside, (stream) => (stream === "T" ? 200 : undefined));
      assert.equal(more, undefined);
      assert.equal(readFileSync(d!.movedTo).length, Math.floor(size * 0.7), "the damaged block is copied aside as found");
      const after = await s.state();
      assert.equal(d!.keptRecords, after.messages, "the records vigil up counts as kept are what the server recovers");
      assert.deepEqual([d!.fromSeq, d!.toSeq, d!.lostCount], [after.last_seq + 1, 200, 200 - after.messages]);
    } finally {
      await s.srv.cleanup();
    }
  });

  it("zeroed bytes inside a block (a torn sector): found; every sequence reported lost is gone from the server", async () => {
    const s = await filledStore(200);
    try {
      const buf = readFileSync(s.blk);
      buf.fill(0, 15_000, 18_000);
      writeFileSync(s.blk, buf);
      const [d] = setAsideDamagedBlocks(s.srv.storeDir, mkdtempSync(join(tmpdir(), "vigil-aside-")), () => 200);
      assert.ok(d, "the damage is found");
      assert.match(d.reason, /impossible length 0/);
      const after = await s.state();
      assert.equal(d.toSeq, 200);
      assert.ok(after.last_seq < d.fromSeq!, `the server keeps nothing from ${d.fromSeq} on (its last is ${after.last_seq})`);
      // The framing cannot see zeros inside a record's payload: the server's checksum drops such a
      // record (2.9.10 here: one more, shown as num_deleted), so the count is a lower bound.
      assert.ok(after.messages <= d.keptRecords && d.keptRecords - after.messages <= 1, `kept ${d.keptRecords} by framing, ${after.messages} by the server`);
    } finally {
      await s.srv.cleanup();
    }
  });
});
