import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Level } from "level";
import { makeEvent } from "@vigil/events";
import { EventStore } from "./store.js";

const ev = (i: number) => makeEvent("edge-001", "vigil/edge-001/test", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: i });

test("batches added at once are written together, each answered for itself, in arrival order, repeats stored once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-store-"));
  const store = await EventStore.open(dir);
  try {
    const e = Array.from({ length: 6 }, (_, i) => ev(i));
    // The first write runs while the other three wait: they go in the next write together.
    const answers = await Promise.all([store.add([e[0]!, e[1]!]), store.add([e[1]!, e[2]!]), store.add([e[3]!, e[3]!, e[4]!]), store.add([e[0]!])]);
    assert.deepEqual(answers, [
      { stored: 2, duplicates: 0 },
      { stored: 1, duplicates: 1 },
      { stored: 2, duplicates: 1 },
      { stored: 0, duplicates: 1 },
    ]);
    const stored = await store.events();
    assert.deepEqual(stored.map((s) => [s.index, s.event.id]), [e[0], e[1], e[2], e[3], e[4]].map((x, i) => [i, x!.id]));
    assert.deepEqual(stored.map((s) => s.batch), [1, 1, 2, 3, 3], "one record per batch, numbered in arrival order");
    assert.equal(await store.has(e[4]!.id), true);
    assert.equal(await store.has(e[5]!.id), false);
    assert.deepEqual({ ...store.counts(), requests: 0 }, { requests: 0, batches: 4, received: 8, stored: 5, duplicates: 3, unauthorized: 0, invalid: 0, faulted: 0 });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a store written with one id! key per event (before the ids! index) still knows those ids after an upgrade", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-store-"));
  const old = ev(1);
  const fresh = ev(2);
  const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
  await db.batch([
    { type: "put", key: `id!${old.id}`, value: "0" },
    { type: "put", key: `b!${"0".padStart(16, "0")}`, value: JSON.stringify({ first: 0, batch: 1, at: new Date().toISOString(), events: [old] }) },
    { type: "put", key: "meta!counts", value: JSON.stringify({ batches: 1, received: 1, stored: 1 }) },
  ]);
  await db.close();
  let store = await EventStore.open(dir);
  try {
    assert.deepEqual(await store.add([old, fresh]), { stored: 1, duplicates: 1 });
    await store.close();
    store = await EventStore.open(dir);
    assert.deepEqual(await store.add([fresh, old]), { stored: 0, duplicates: 2 }, "ids of both kinds read back at open");
    assert.equal(store.counts().stored, 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("batches added with their bodies (gzipped or not) are stored as received and read back; a failed write forgets its ids", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-store-"));
  const plain = [ev(1), ev(2)];
  const zipped = [ev(3), ev(4), ev(5)];
  const text = (e: unknown[]) => Buffer.from(JSON.stringify(e), "utf8");
  let store = await EventStore.open(dir);
  try {
    assert.deepEqual(await store.add(plain, { firstSeq: 7, lastSeq: 8 }, { bytes: text(plain), gzip: false }), { stored: 2, duplicates: 0 });
    assert.deepEqual(await store.add(zipped, { firstSeq: 9, lastSeq: 11 }, { bytes: gzipSync(text(zipped)), gzip: true }), { stored: 3, duplicates: 0 });
    await store.close();
    store = await EventStore.open(dir);
    assert.deepEqual((await store.events()).map((s) => s.event), [...plain, ...zipped], "read back after a reopen, as received");
    assert.deepEqual((await store.events(2)).map((s) => [s.index, s.batch]), [[3, 2], [4, 2]], "from the middle of a gzipped batch");
    const heads: unknown[] = [];
    for await (const b of store.batches()) heads.push([b.firstSeq, b.lastSeq, b.events.length, "eventsGzip" in b]);
    assert.deepEqual(heads, [[7, 8, 2, false], [9, 11, 3, false]]);
    const again = [zipped[0]!, ev(6)];
    assert.deepEqual(await store.add(again, {}, { bytes: gzipSync(text(again)), gzip: true }), { stored: 1, duplicates: 1 }, "a repeat: the new event serialised alone");
    assert.deepEqual((await store.events(4)).map((s) => s.event), [again[1]]);
    await store.close();
    const late = ev(7);
    await assert.rejects(store.add([late], {}, { bytes: text([late]), gzip: false }), "the database is closed: the write fails");
    assert.equal(await store.has(late.id), false, "an id whose write failed is not taken as stored (its re-send is stored)");
  } finally {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
