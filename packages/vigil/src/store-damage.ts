import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";

/**
 * Torn or truncated message blocks in the embedded server's store, found before it starts (issue 18).
 * nats-server 2.9 recovers a damaged block by itself but silently: it keeps the records before the
 * damage and drops the rest (measured on 2.9.10: a block of 200 cut at 20,000 of 28,890 bytes came
 * back with 138 messages; 3,000 zeroed bytes in the middle left 104 of 200), with no log line and
 * nothing in the stream's state. So vigil up reads each block's record framing first, copies a
 * damaged block aside (the evidence; the server then recovers the readable part in place) and
 * reports what was lost: the count and the sequence range.
 */

/** One block file's damage, as vigil up reports it (`sys.store.damaged`). */
export interface StoreDamage {
  /** The stream's folder name (`VIGIL`, `KV_…`). */
  stream: string;
  /** The block file, relative to the store. */
  file: string;
  /** Where the damaged original was copied to. */
  movedTo: string;
  /** Records before the damage: the server keeps these. */
  keptRecords: number;
  /** Messages known to be lost (0 when none after the damage was known durable). */
  lostCount: number;
  /** The lost sequences, inclusive, when lostCount > 0. */
  fromSeq?: number;
  toSeq?: number;
  /** Bytes of the block from the damage to its end. */
  unreadableBytes: number;
  reason: string;
}

/** What one block's framing says: the whole records before the first damaged one. */
export interface BlockScan {
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Offset of the first byte not in a whole record (the file's size when undamaged). */
  validBytes: number;
  size: number;
  /** Why reading stopped before the end, if it did. */
  damage?: string;
}

/** 2.9 filestore record: rl u32 (bit 31: has headers), seq u64 (bit 63: erased), ts i64, subject length u16, subject, [hdr len u32, hdr], msg, hash u64. */
const RECORD_HEADER = 22;
const CHECKSUM = 8;
const HAS_HEADERS = 0x80000000;
const ERASED = 1n << 63n;
/** The server's own sanity limit on a record's length (rlBadThresh, 32 MiB). */
const MAX_RECORD = 32 * 1024 * 1024;

/**
 * Reads a block's record framing (not its checksums: the key of 2.9's highwayhash is the server's
 * own; a torn write shows as a length that is zero, runs past the end or does not fit its parts).
 */
export function scanBlock(buf: Buffer): BlockScan {
  let at = 0;
  let records = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  const stop = (damage: string): BlockScan => ({ records, firstSeq, lastSeq, validBytes: at, size: buf.length, damage });
  while (at < buf.length) {
    if (buf.length - at < RECORD_HEADER + CHECKSUM) return stop(`${buf.length - at} bytes at the end are not a whole record`);
    const rl = (buf.readUInt32LE(at) & ~HAS_HEADERS) >>> 0;
    const slen = buf.readUInt16LE(at + 20);
    if (rl < RECORD_HEADER + CHECKSUM || rl > MAX_RECORD) return stop(`a record at byte ${at} has the impossible length ${rl}`);
    if (at + rl > buf.length) return stop(`the record at byte ${at} (${rl} bytes) runs past the end (${buf.length})`);
    if (RECORD_HEADER + slen + CHECKSUM > rl) return stop(`the record at byte ${at} has a subject longer than itself`);
    const raw = buf.readBigUInt64LE(at + 4);
    const seq = Number(raw & ~ERASED);
    if (seq === 0 || (lastSeq !== undefined && seq <= lastSeq)) return stop(`the record at byte ${at} has sequence ${seq} after ${lastSeq ?? "none"}`);
    if ((raw & ERASED) === 0n) {
      firstSeq ??= seq;
      records++;
    }
    lastSeq = seq;
    at += rl;
  }
  return { records, firstSeq, lastSeq, validBytes: at, size: buf.length };
}

/** Block files of a stream folder in index order (`1.blk`, `2.blk`, …). */
function blocksOf(msgsDir: string): string[] {
  if (!existsSync(msgsDir)) return [];
  return readdirSync(msgsDir)
    .filter((f) => /^\d+\.blk$/.test(f))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
}

/** Every stream folder of a store: `<store>/jetstream/<account>/streams/<stream>`. */
function streamDirs(storeDir: string): Array<{ stream: string; dir: string; rel: string }> {
  const js = join(storeDir, "jetstream");
  if (!existsSync(js)) return [];
  const out: Array<{ stream: string; dir: string; rel: string }> = [];
  for (const account of readdirSync(js)) {
    const streams = join(js, account, "streams");
    if (!existsSync(streams)) continue;
    for (const stream of readdirSync(streams)) out.push({ stream, dir: join(streams, stream), rel: join("jetstream", account, "streams", stream) });
  }
  return out;
}

/**
 * Finds damaged blocks, copies each aside into `asideDir` (fsynced) and says what was lost. The
 * lost range runs from the record after the damage to the sequence before the next block's first,
 * or, for the stream's last block, to the highest sequence the durability barrier had announced
 * (`durableSeq`, vigil up's own record of it): later messages were never known durable, and their
 * publishers re-publish them from their outboxes.
 */
export function setAsideDamagedBlocks(storeDir: string, asideDir: string, durableSeq: (stream: string) => number | undefined): StoreDamage[] {
  const found: StoreDamage[] = [];
  for (const s of streamDirs(storeDir)) {
    const msgs = join(s.dir, "msgs");
    const blocks = blocksOf(msgs);
    let previousLast: number | undefined;
    const scans = blocks.map((f) => scanBlock(readFileSync(join(msgs, f))));
    scans.forEach((scan, i) => {
      const file = blocks[i]!;
      if (scan.damage) {
        const movedTo = join(asideDir, s.stream, file);
        copyAside(join(msgs, file), movedTo);
        const from = (scan.lastSeq ?? previousLast ?? 0) + 1;
        const nextFirst = scans.slice(i + 1).find((n) => n.firstSeq !== undefined)?.firstSeq;
        const to = nextFirst !== undefined ? nextFirst - 1 : Math.max(from - 1, durableSeq(s.stream) ?? 0);
        const lostCount = Math.max(0, to - from + 1);
        found.push({ stream: s.stream, file: join(s.rel, "msgs", file), movedTo, keptRecords: scan.records, lostCount, ...(lostCount > 0 ? { fromSeq: from, toSeq: to } : {}), unreadableBytes: scan.size - scan.validBytes, reason: scan.damage });
      }
      previousLast = scan.lastSeq ?? previousLast;
    });
  }
  return found;
}

function copyAside(from: string, to: string): void {
  mkdirSync(join(to, ".."), { recursive: true });
  copyFileSync(from, to);
  const fd = openSync(to, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** vigil up's record of the highest stream sequence a barrier announced (`<dataDir>/nats-durable.json`). */
export interface DurableRecord {
  stream: string;
  seq: number;
}

/** Writes the record durably (temp file fsynced, renamed over the old one, folder fsynced); off the event loop. */
export async function writeDurableRecord(file: string, r: DurableRecord): Promise<void> {
  const tmp = `${file}.tmp`;
  const f = await open(tmp, "w");
  try {
    await f.writeFile(JSON.stringify(r));
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, file);
  const dir = await open(join(file, ".."), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export function readDurableRecord(file: string): DurableRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, "utf8")) as DurableRecord;
    return typeof r.seq === "number" && typeof r.stream === "string" ? r : undefined;
  } catch {
    return undefined; // none yet, or torn itself: no durable sequence is known
  }
}
