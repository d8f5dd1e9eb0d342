import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openOutbox } from "./outbox.js";

/** An outbox whose batches are counted and held until `release()`, so a test decides when a commit is in flight. */
async function gatedOutbox() {
  const box = openOutbox(mkdtempSync(join(tmpdir(), "vigil-outbox-unit-")));
  await box.db.open();
  await box.countStored();
  const batches: number[] = [];
  let gate: () => void = () => undefined;
  let gated: Promise<void> = Promise.resolve();
  const hold = () => (gated = new Promise<void>((r) => (gate = r)));
  // The outbox commits through a chained batch (db.batch() without arguments): count and gate its write.
  type Chained = { length: number; write(o: unknown): Promise<void> };
  const original = box.db.batch.bind(box.db) as unknown as () => Chained;
  (box.db as unknown as { batch: () => Chained }).batch = () => {
    const chained = original();
    const write = chained.write.bind(chained);
    chained.write = async (o) => {
      batches.push(chained.length);
      await gated;
      return write(o);
    };
    return chained;
  };
  const put = (i: number) => box.write([{ type: "put", key: box.newKey(), value: String(i) }]);
  return { box, batches, hold, release: () => gate(), put };
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe("outbox group commit", () => {
  it("puts issued in many turns while a commit is in flight all go into the one next batch", async () => {
    const o = await gatedOutbox();
    o.hold();
    const first = o.put(0);
    await nextTurn();
    assert.deepEqual(o.batches, [1], "the first put is being committed");
    const later: Promise<void>[] = [];
    for (let i = 1; i <= 10; i++) {
      later.push(o.put(i));
      await nextTurn(); // each put in a turn of its own, as publishes answered one by one are
    }
    assert.deepEqual(o.batches, [1], "no second batch starts while one is in flight");
    o.release();
    await first;
    await Promise.all(later);
    assert.deepEqual(o.batches, [1, 10], "the ten queued puts were committed together");
    let stored = 0;
    for await (const _ of o.box.db.keys()) stored++;
    assert.equal(stored, 11);
    await o.box.db.close();
  });

  it("a batch with an op the store refuses fails every write in it, and the next batch is committed as usual", async () => {
    const o = await gatedOutbox();
    o.hold();
    const inFlight = o.put(0);
    await nextTurn();
    // Both queue behind the commit in flight, so they share the next batch: the bad key fails the good put with it.
    const bad = o.box.write([{ type: "put", key: null as unknown as string, value: "x" }]);
    const good = o.put(1);
    o.release();
    await inFlight;
    await assert.rejects(bad);
    await assert.rejects(good);
    await o.put(2);
    const keys: string[] = [];
    for await (const k of o.box.db.keys()) keys.push(k);
    assert.deepEqual(keys.map(Number), [0, 2]);
    await o.box.db.close();
  });

  it("deletes ride with the next put, or are committed alone after a while when none comes, even behind a commit in flight", async () => {
    const o = await gatedOutbox();
    await o.put(0);
    await o.put(1);
    const k0 = "0".padStart(16, "0");
    const k1 = "1".padStart(16, "0");
    const dropped = o.box.drop([k0]);
    await o.put(2);
    await dropped;
    assert.deepEqual(o.batches, [1, 1, 2], "the delete rode with the put");
    o.hold();
    const inFlight = o.put(3);
    await nextTurn();
    const alone = o.box.drop([k1]);
    const t0 = Date.now();
    setTimeout(() => o.release(), 400); // the delete's wait (250 ms) ends while the put's commit is in flight
    await inFlight;
    await alone;
    assert.ok(Date.now() - t0 >= 250);
    assert.deepEqual(o.batches, [1, 1, 2, 1, 1], "the delete was committed on its own, after the commit in flight");
    assert.equal(await o.box.db.get(k1).catch(() => undefined), undefined);
    await o.box.db.close();
  });
});

describe("outbox compaction", () => {
  const logBytes = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .reduce((n, f) => n + statSync(join(dir, f)).size, 0);

  it("given thousands of events written and dropped and five still held, when compacted, then the memtable's log starts afresh and the five are kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-outbox-compact-"));
    const box = openOutbox(dir);
    await box.db.open();
    await box.countStored();
    const keys: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const key = box.newKey();
      keys.push(key);
      await box.write([{ type: "put", key, value: JSON.stringify({ id: i, data: "x".repeat(500) }) }]);
    }
    await box.write(keys.slice(5).map((key) => ({ type: "del" as const, key })));
    const before = logBytes(dir);
    assert.ok(before > 1_000_000, `the memtable's log holds every put and delete before compaction (${before} bytes)`);
    await box.compact();
    const after = logBytes(dir);
    assert.ok(after < 10_000, `after compaction the memtable starts afresh: ${after} bytes of log (was ${before})`);
    await box.db.close();
    const again = openOutbox(dir);
    await again.db.open();
    assert.equal(await again.countStored(), 5, "the held events survive compaction");
    assert.deepEqual(await again.db.keys().all(), keys.slice(0, 5));
    await again.db.close();
  });
});
