import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDurableRecord, scanBlock, setAsideDamagedBlocks, writeDurableRecord } from "./store-damage.js";

/** A 2.9 filestore record (rl, seq, ts, subject length, subject, msg, 8-byte hash), hash zeroed: scanBlock reads framing only. */
function record(seq: number, msg = `message ${seq}`): Buffer {
  const subject = Buffer.from("vigil.d.obs.demo.reading");
  const body = Buffer.from(msg);
  const rl = 22 + subject.length + body.length + 8;
  const b = Buffer.alloc(rl);
  b.writeUInt32LE(rl, 0);
  b.writeBigUInt64LE(BigInt(seq), 4);
  b.writeBigInt64LE(BigInt(Date.now()) * 1_000_000n, 12);
  b.writeUInt16LE(subject.length, 20);
  subject.copy(b, 22);
  body.copy(b, 22 + subject.length);
  return b;
}
const block = (from: number, to: number) => Buffer.concat(Array.from({ length: to - from + 1 }, (_, i) => record(from + i)));

function store(blocks: Buffer[]): { storeDir: string; msgs: string } {
  const storeDir = mkdtempSync(join(tmpdir(), "vigil-store-damage-"));
  const msgs = join(storeDir, "jetstream", "$G", "streams", "VIGIL", "msgs");
  mkdirSync(msgs, { recursive: true });
  blocks.forEach((b, i) => writeFileSync(join(msgs, `${i + 1}.blk`), b));
  return { storeDir, msgs };
}

describe("torn store files (issue 18)", () => {
  it("reads a whole block's records and stops at a record cut short, zeroed or past the end", () => {
    const whole = block(1, 10);
    assert.deepEqual({ ...scanBlock(whole), size: 0 }, { records: 10, firstSeq: 1, lastSeq: 10, validBytes: whole.length, size: 0 });
    const cut = scanBlock(whole.subarray(0, whole.length - 5));
    assert.equal(cut.records, 9);
    assert.equal(cut.lastSeq, 9);
    assert.match(cut.damage!, /runs past the end/);
    const zeroed = Buffer.concat([block(1, 4), Buffer.alloc(200), block(5, 6)]);
    const z = scanBlock(zeroed);
    assert.equal(z.records, 4);
    assert.match(z.damage!, /impossible length 0/);
    assert.equal(scanBlock(Buffer.alloc(0)).damage, undefined, "an empty block (just created) is not damaged");
  });

  it("copies a torn middle block aside and reports the sequences up to the next block's first as lost", () => {
    const b2 = block(11, 20);
    const tornAt = b2.indexOf(record(16).subarray(0, 12)) + 7; // inside record 16
    const s = store([block(1, 10), b2.subarray(0, tornAt), block(21, 30)]);
    const aside = join(s.storeDir, "..", `${s.storeDir.split("/").pop()}-aside`);
    const found = setAsideDamagedBlocks(s.storeDir, aside, () => 30);
    assert.equal(found.length, 1);
    const d = found[0]!;
    assert.deepEqual({ stream: d.stream, file: d.file, keptRecords: d.keptRecords, lostCount: d.lostCount, fromSeq: d.fromSeq, toSeq: d.toSeq }, { stream: "VIGIL", file: join("jetstream", "$G", "streams", "VIGIL", "msgs", "2.blk"), keptRecords: 5, lostCount: 5, fromSeq: 16, toSeq: 20 });
    assert.ok(d.unreadableBytes > 0);
    assert.deepEqual(readFileSync(d.movedTo), readFileSync(join(s.msgs, "2.blk")), "the damaged original is kept aside, byte for byte");
  });

  it("for the last block, counts as lost what the barrier had announced durable, and nothing when it had announced none of it", () => {
    const s = store([block(1, 10), block(11, 20).subarray(0, 100)]);
    const aside = mkdtempSync(join(tmpdir(), "vigil-store-aside-"));
    const [d] = setAsideDamagedBlocks(s.storeDir, aside, () => 18);
    assert.deepEqual([d!.lostCount, d!.fromSeq, d!.toSeq], [18 - 11 + 1 - d!.keptRecords, 11 + d!.keptRecords, 18]);
    const [none] = setAsideDamagedBlocks(s.storeDir, mkdtempSync(join(tmpdir(), "vigil-store-aside-")), () => undefined);
    assert.equal(none!.lostCount, 0);
    assert.equal(none!.fromSeq, undefined);
  });

  it("finds nothing in an undamaged store or one with no streams yet", () => {
    const s = store([block(1, 10), block(11, 20)]);
    assert.deepEqual(setAsideDamagedBlocks(s.storeDir, join(s.storeDir, "aside"), () => 20), []);
    assert.ok(!existsSync(join(s.storeDir, "aside")));
    assert.deepEqual(setAsideDamagedBlocks(mkdtempSync(join(tmpdir(), "vigil-empty-store-")), "/nonexistent", () => 0), []);
  });

  it("keeps the barrier's durable record across writes, and reads a missing or torn one as none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-durable-record-"));
    const file = join(dir, "nats-durable.json");
    assert.equal(readDurableRecord(file), undefined);
    await writeDurableRecord(file, { stream: "VIGIL", seq: 7 });
    await writeDurableRecord(file, { stream: "VIGIL", seq: 9 });
    assert.deepEqual(readDurableRecord(file), { stream: "VIGIL", seq: 9 });
    writeFileSync(file, '{"stream":"VIG');
    assert.equal(readDurableRecord(file), undefined);
  });
});
