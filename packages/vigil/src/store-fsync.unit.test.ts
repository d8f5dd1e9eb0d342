// One barrier pass over a store laid out like nats-server 2.9's (jetstream/$G/streams/<stream>/…):
// what it fsyncs, and what it may skip because it is already on disk and unchanged since.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeStoreSync, fsyncStore, newStoreSyncState } from "./store-fsync.js";

/** Passes seen as if they ran 10 s after the files' last change: everything has settled (ctime cannot be set back). */
const later = { settleMs: 2_000, now: () => Date.now() + 10_000 };

/** A store as a fresh stream leaves it. */
function makeStore(): { store: string; msgs: string; meta: string } {
  const store = mkdtempSync(join(tmpdir(), "vigil-store-fsync-"));
  const stream = join(store, "jetstream", "$G", "streams", "VIGIL");
  const msgs = join(stream, "msgs");
  mkdirSync(msgs, { recursive: true });
  mkdirSync(join(stream, "obs", "decider"), { recursive: true });
  const files = [join(stream, "meta.inf"), join(stream, "meta.sum"), join(msgs, "1.blk"), join(msgs, "2.blk"), join(msgs, "2.idx"), join(stream, "obs", "decider", "o.dat")];
  for (const f of files) writeFileSync(f, "x".repeat(100));
  return { store, msgs, meta: join(stream, "meta.inf") };
}

test("given a settled store synced once, when nothing changed, then the next pass fsyncs nothing", async () => {
  const { store } = makeStore();
  const state = newStoreSyncState();
  const first = await fsyncStore(store, "VIGIL", state, later);
  assert.equal(first.files, 6);
  assert.equal(first.synced, first.files + first.dirs, "the first pass syncs every file and folder");
  const second = await fsyncStore(store, "VIGIL", state, later);
  assert.equal(second.synced, 0);
  rmSync(store, { recursive: true });
});

test("given a synced store, when a block grows, a meta file is replaced by rename and a block is added, then exactly those files and their folders are fsynced", async () => {
  const { store, msgs, meta } = makeStore();
  const state = newStoreSyncState();
  await fsyncStore(store, "VIGIL", state, later);
  appendFileSync(join(msgs, "2.blk"), "more");
  writeFileSync(`${meta}.tmp`, "y".repeat(100));
  renameSync(`${meta}.tmp`, meta);
  writeFileSync(join(msgs, "3.blk"), "new");
  const pass = await fsyncStore(store, "VIGIL", state, later);
  // 2.blk, meta.inf, 3.blk; the folders msgs/ (new entry) and VIGIL/ (meta.inf's new inode).
  assert.equal(pass.synced, 5);
  rmSync(store, { recursive: true });
});

test("given files changed just now, when they are synced, then every later pass syncs them again until they have settled", async () => {
  const { store } = makeStore();
  const state = newStoreSyncState();
  await fsyncStore(store, "VIGIL", state, { settleMs: 2_000 });
  const again = await fsyncStore(store, "VIGIL", state, { settleMs: 2_000 });
  // A write in the same timestamp tick as the last stat would not show: recently changed files are never skipped.
  assert.equal(again.synced, 6, "the six recently changed files, no folder");
  rmSync(store, { recursive: true });
});

/** The paths this process has open, from /proc/self/fd. */
function openPaths(): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

test("given files fsynced every pass, their fds are kept between passes, let go when a file is purged or replaced, and closed by closeStoreSync", async () => {
  const { store, msgs, meta } = makeStore();
  const state = newStoreSyncState();
  await fsyncStore(store, "VIGIL", state, { settleMs: 2_000 });
  const blk = join(msgs, "1.blk");
  assert.equal(state.open.size, 6, "every file synced is kept open");
  assert.ok(openPaths().includes(blk));
  rmSync(blk);
  writeFileSync(`${meta}.tmp`, "z");
  renameSync(`${meta}.tmp`, meta);
  const oldMetaIno = state.open.get(meta)!.ino;
  await fsyncStore(store, "VIGIL", state, { settleMs: 2_000 });
  assert.equal(state.open.has(blk), false, "a purged block is not held open");
  assert.equal(openPaths().some((p) => p.startsWith(blk)), false, "its inode is let go (no '(deleted)' link left)");
  assert.notEqual(oldMetaIno, statSync(meta, { bigint: true }).ino);
  assert.equal(state.open.get(meta)!.ino, statSync(meta, { bigint: true }).ino, "a meta file replaced by rename is synced through an fd of its new inode");
  await closeStoreSync(state);
  assert.equal(state.open.size, 0);
  assert.equal(openPaths().some((p) => p.startsWith(store)), false, "nothing of the store left open");
  rmSync(store, { recursive: true });
});
