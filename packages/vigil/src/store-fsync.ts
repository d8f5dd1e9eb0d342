import { close as fsClose, fsync as fsFsync, lstatSync, open as fsOpen, readdirSync } from "node:fs";
import { promisify } from "node:util";
import { open } from "node:fs/promises";
import { join } from "node:path";

/**
 * One pass of the durability barrier over the server's store (docs/decisions/0009): fsync what may
 * hold writes that are not on disk yet, in parallel, and nothing else.
 *
 * Profiled on this machine's disk (a virtual ext4 disk) under a publish load: every fsync costs
 * ~20–25 ms even for an unchanged file, and a pass over the 18 files and folders of a fresh store
 * took ~1.1 s one after another, ~50 ms in parallel. So a pass
 * - fsyncs files in parallel (bounded), in two phases: everything but the event stream's message
 *   blocks first, then those blocks, so a consumer's ack or the decider's snapshot on disk never
 *   points past an output that a cut could still take;
 * - skips a file whose (inode, size, mtime, ctime) is what it was at an earlier fsync of it, when
 *   that fsync came at least `settleMs` after the file's last change: a later write sets mtime to a
 *   later time, so an unchanged signature means unchanged content (the settle time covers the
 *   file system's coarse timestamps, a few ms on ext4; LazyFS keeps the cached write's own time);
 * - fsyncs a folder only when its entries (names and inodes) changed since its last fsync: a new
 *   block, a deleted one, a meta file re-written by rename.
 */
export interface StoreSyncState {
  /** Path → signature at its last fsync, kept only when that fsync came after the file had settled. */
  files: Map<string, string>;
  /** Folder → its entries (name:inode) at its last fsync. */
  dirs: Map<string, string>;
  /**
   * Files kept open between passes (path → fd and the inode it was opened on): the written block and
   * busy consumers' state are fsynced every pass, and an open, fsync and close through fs/promises
   * for each cost three thread-pool round trips with their handle objects, 40 passes a second under
   * load. Closed when the file goes or its path names another inode; closeStoreSync() closes the rest.
   */
  open: Map<string, { fd: number; ino: bigint }>;
}

export interface StoreSyncOptions {
  /** fsyncs in flight at once. */
  concurrency?: number;
  /** How long a file must have been unchanged before an fsync of it lets later passes skip it. */
  settleMs?: number;
  /** The clock compared with the files' timestamps (tests move it on instead of waiting). */
  now?: () => number;
}

export interface StoreSyncCounts {
  files: number;
  dirs: number;
  /** fsync calls made in this pass (files and folders). */
  synced: number;
}

export const newStoreSyncState = (): StoreSyncState => ({ files: new Map(), dirs: new Map(), open: new Map() });

/** At most this many files kept open (a store has a few dozen); beyond it a file is opened per fsync. */
const MAX_OPEN = 256;

/** Closes the files a state keeps open (the barrier's stop). */
export async function closeStoreSync(state: StoreSyncState): Promise<void> {
  const fds = [...state.open.values()].map((h) => h.fd);
  state.open.clear();
  await Promise.all(fds.map((fd) => closeFd(fd)));
}

interface Found {
  path: string;
  ino: bigint;
  signature: string;
  /** The later of mtime and ctime. */
  changedAtMs: number;
}

export async function fsyncStore(storeDir: string, stream: string, state: StoreSyncState = newStoreSyncState(), o: StoreSyncOptions = {}): Promise<StoreSyncCounts> {
  const concurrency = o.concurrency ?? 16;
  const settleMs = o.settleMs ?? 2_000;
  const files: Found[] = [];
  const dirs: Array<{ path: string; entries: string }> = [];
  const statAt = (o.now ?? Date.now)();
  walk(storeDir, files, dirs);
  const blocks = `/${join("streams", stream, "msgs")}/`;
  const changed = files.filter((f) => state.files.get(f.path) !== f.signature);
  const syncFile = async (f: Found) => {
    if (!(await fsyncFile(state, f))) return;
    // Only a settled file may be skipped later: a write in the same timestamp tick would not show.
    if (statAt - f.changedAtMs >= settleMs) state.files.set(f.path, f.signature);
    else state.files.delete(f.path);
  };
  await inParallel(changed.filter((f) => !f.path.includes(blocks)), concurrency, syncFile);
  await inParallel(changed.filter((f) => f.path.includes(blocks)), concurrency, syncFile);
  // New blocks and re-written meta files are reached through their folders' entries.
  const changedDirs = dirs.filter((d) => state.dirs.get(d.path) !== d.entries);
  await inParallel(changedDirs, concurrency, async (d) => {
    if (await fsyncPath(d.path)) state.dirs.set(d.path, d.entries);
  });
  await forgetRemoved(state, files, dirs);
  return { files: files.length, dirs: dirs.length, synced: changed.length + changedDirs.length };
}

/**
 * Synchronous on purpose: a pass runs every 25 ms under load and the store has a few dozen entries.
 * Through fs/promises each readdir and lstat was a thread-pool round trip with its promise and
 * handle objects; profiled under the recovery bench's load (1,000 events/s), the walk made most of
 * `vigil up`'s ~22 % of a core. Each call here takes microseconds (the metadata is in the page cache);
 * the fsyncs, which wait for the disk, stay asynchronous.
 */
function walk(dir: string, files: Found[], dirs: Array<{ path: string; entries: string }>): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // removed meanwhile (a consumer deleted, a block purged)
  }
  const entries: string[] = [];
  const subdirs: string[] = [];
  for (const name of names) {
    const p = join(dir, name);
    const s = lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (!s) continue;
    entries.push(`${name}:${s.ino}`);
    if (s.isDirectory()) subdirs.push(p);
    else if (s.isFile()) files.push({ path: p, ino: s.ino, signature: `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`, changedAtMs: Number((s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs) / 1_000_000n) });
  }
  dirs.push({ path: dir, entries: entries.sort().join("/") });
  for (const d of subdirs) walk(d, files, dirs);
}

async function forgetRemoved(state: StoreSyncState, files: Found[], dirs: Array<{ path: string }>): Promise<void> {
  const present = new Set(files.map((f) => f.path));
  for (const p of state.files.keys()) if (!present.has(p)) state.files.delete(p);
  const presentDirs = new Set(dirs.map((d) => d.path));
  for (const p of state.dirs.keys()) if (!presentDirs.has(p)) state.dirs.delete(p);
  // A purged block's inode stays allocated while it is open here: let it go.
  const gone: number[] = [];
  for (const [p, h] of state.open) if (!present.has(p)) (state.open.delete(p), gone.push(h.fd));
  await Promise.all(gone.map((fd) => closeFd(fd)));
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

const openFd = promisify(fsOpen);
const fsyncFd = promisify(fsFsync);
const closeFdOrThrow = promisify(fsClose);
const closeFd = (fd: number): Promise<void> => closeFdOrThrow(fd).catch(() => undefined);

/** fsync of a file through the fd kept for it (opened now when there is none for its inode); false when it vanished. */
async function fsyncFile(state: StoreSyncState, f: Found): Promise<boolean> {
  let h = state.open.get(f.path);
  if (h && h.ino !== f.ino) {
    state.open.delete(f.path);
    await closeFd(h.fd);
    h = undefined;
  }
  let keep = true;
  if (!h) {
    const fd = await openFd(f.path, "r").catch(() => undefined);
    if (fd === undefined) return false; // removed meanwhile
    h = { fd, ino: f.ino };
    keep = state.open.size < MAX_OPEN;
    if (keep) state.open.set(f.path, h);
  }
  try {
    await fsyncFd(h.fd);
    return true;
  } catch {
    keep = false;
    state.open.delete(f.path);
    return false;
  } finally {
    if (!keep) await closeFd(h.fd);
  }
}

/** true when the path was fsynced; false when it vanished meanwhile (nothing to keep). */
async function fsyncPath(p: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(p, "r");
    await fh.sync();
    return true;
  } catch {
    return false; // removed meanwhile, or a folder the file system does not sync
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
