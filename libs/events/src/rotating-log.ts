import { mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Bounded logs (docs/unattended.md): a size-rotated file per worker or service, `<name>.log` plus
 * `<name>.log.1` … `<name>.log.<keepFiles>` (1 the newest), and a total cap per data dir.
 *
 * Never blocks whoever produces the lines: `write()` only appends to an in-memory queue, one async
 * write drains it. When the disk is slow the queue stops growing at `queueBytes` and further
 * output is dropped and counted; when a write fails (ENOSPC, EIO …) the chunk is dropped and
 * counted, and `onProblem` is told once per outage. When writing works again a marker line says how
 * many lines were lost.
 */
export interface RotatingLogOptions {
  /** The live file, e.g. `<dataDir>/supervisor/logs/<worker>.log`. */
  file: string;
  maxFileBytes: number;
  keepFiles: number;
  /** Every `*.log*` file under these folders counts towards `maxTotalBytes` (the data dir's log folders). */
  capDirs?: string[];
  maxTotalBytes?: number;
  /** Pending bytes past which new output is dropped (default 1 MiB). */
  queueBytes?: number;
  /** The last lines kept in memory for `lastLines()` (a crash's last words) and their cap. */
  tailLines?: number;
  tailLineBytes?: number;
  /** Called once when writing starts failing (or the queue overflows), and once when it works again. */
  onProblem?: (problem: { state: "failing" | "recovered"; error?: string; droppedLines: number; droppedBytes: number }) => void;
}

export interface RotatingLogStats {
  writtenBytes: number;
  droppedBytes: number;
  droppedLines: number;
  rotations: number;
}

const NL = 0x0a;

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(NL); i !== -1; i = b.indexOf(NL, i + 1)) n++;
  return n || 1;
}

/** The files of one log, the live one first, then .1, .2 … as they exist. */
export function logFiles(file: string): string[] {
  const dir = dirname(file);
  const base = basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rotated = names
    .filter((n) => n.startsWith(`${base}.`) && /^\d+$/.test(n.slice(base.length + 1)))
    .sort((a, b) => Number(a.slice(base.length + 1)) - Number(b.slice(base.length + 1)));
  return [...(names.includes(base) ? [base] : []), ...rotated].map((n) => join(dir, n));
}

/**
 * Deletes the oldest rotated files (never a live `.log`) until every `*.log*` under `dirs` fits in
 * `maxTotalBytes`. Synchronous and cheap (a readdir and stats), run after a rotation only.
 */
export function enforceTotalCap(dirs: string[], maxTotalBytes: number): number {
  const files: Array<{ path: string; size: number; mtimeMs: number; live: boolean }> = [];
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!/\.log(\.\d+)?$/.test(n)) continue;
      try {
        const s = statSync(join(dir, n));
        files.push({ path: join(dir, n), size: s.size, mtimeMs: s.mtimeMs, live: n.endsWith(".log") });
      } catch {
        /* rotated away meanwhile */
      }
    }
  }
  let total = files.reduce((a, f) => a + f.size, 0);
  let removed = 0;
  for (const f of files.filter((x) => !x.live).sort((a, b) => a.mtimeMs - b.mtimeMs)) {
    if (total <= maxTotalBytes) break;
    try {
      unlinkSync(f.path);
      total -= f.size;
      removed++;
    } catch {
      /* gone already */
    }
  }
  return removed;
}

export class RotatingLog {
  private queue: Buffer[] = [];
  private queued = 0;
  private fh?: FileHandle;
  private size = -1;
  private draining?: Promise<void>;
  private failing = false;
  private closed = false;
  private pendingDrop = { lines: 0, bytes: 0 };
  private readonly tail: string[] = [];
  private partial = "";
  readonly stats: RotatingLogStats = { writtenBytes: 0, droppedBytes: 0, droppedLines: 0, rotations: 0 };

  constructor(private readonly o: RotatingLogOptions) {
    mkdirSync(dirname(o.file), { recursive: true });
  }

  /** Queues output for the file; never waits and never throws. */
  write(chunk: Buffer | string): void {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (b.length === 0) return;
    this.remember(b);
    if (this.closed) return;
    if (this.queued + b.length > (this.o.queueBytes ?? 1024 * 1024)) {
      this.drop(b, "the disk does not keep up (log queue full)");
      return;
    }
    this.queue.push(b);
    this.queued += b.length;
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** The last lines seen (each cut to tailLineBytes), whether or not they reached the disk. */
  lastLines(): string[] {
    const lines = [...this.tail];
    if (this.partial) lines.push(this.partial);
    return lines.slice(-(this.o.tailLines ?? 20));
  }

  /** Forgets the remembered last lines (a new run of the worker starts). */
  clearTail(): void {
    this.tail.length = 0;
    this.partial = "";
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private remember(b: Buffer): void {
    const max = this.o.tailLines ?? 20;
    if (max === 0) return;
    const cap = this.o.tailLineBytes ?? 500;
    // Only the last max lines of a chunk matter: start after its (max+1)-th newline from the end, if it has that many.
    let from = b.length;
    for (let n = 0; n <= max && from > 0; n++) from = b.lastIndexOf(NL, from - 1);
    const text = from > 0 ? b.subarray(from + 1).toString("utf8") : this.partial + b.toString("utf8");
    if (from > 0) this.tail.length = 0; // this chunk alone holds more than max lines
    const parts = text.split("\n");
    this.partial = (parts.pop() ?? "").slice(0, cap);
    for (const line of parts.slice(-max)) this.tail.push(line.slice(0, cap));
    if (this.tail.length > max) this.tail.splice(0, this.tail.length - max);
  }

  private drop(b: Buffer, error: string): void {
    const lines = countLines(b);
    this.stats.droppedBytes += b.length;
    this.stats.droppedLines += lines;
    this.pendingDrop.lines += lines;
    this.pendingDrop.bytes += b.length;
    if (!this.failing) {
      this.failing = true;
      this.o.onProblem?.({ state: "failing", error, droppedLines: this.stats.droppedLines, droppedBytes: this.stats.droppedBytes });
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const chunk = Buffer.concat(this.queue);
      this.queue = [];
      this.queued = 0;
      try {
        await this.append(chunk);
        if (this.failing) this.recovered();
      } catch (err) {
        await this.fh?.close().catch(() => undefined);
        this.fh = undefined;
        this.size = -1;
        this.drop(chunk, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
    }
  }

  private recovered(): void {
    this.failing = false;
    const { lines, bytes } = this.pendingDrop;
    this.pendingDrop = { lines: 0, bytes: 0 };
    this.o.onProblem?.({ state: "recovered", droppedLines: lines, droppedBytes: bytes });
    // In the file itself too, so whoever reads it knows there is a gap.
    this.queue.unshift(Buffer.from(`[vigil] ${lines} line(s) (${bytes} bytes) of output were dropped: the log could not be written\n`));
    this.queued += this.queue[0]!.length;
  }

  private async append(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      await this.ensureOpen();
      if (this.size >= this.o.maxFileBytes) await this.rotate();
      const room = this.o.maxFileBytes - this.size;
      let end = offset + Math.max(1, room);
      if (end < chunk.length) {
        // End a file at a line's end: a line cut across two files reads back as two (log-read.ts).
        // Only a line longer than a whole file is cut.
        const nl = chunk.lastIndexOf(NL, end - 1);
        if (nl >= offset) end = nl + 1;
        else if (this.size > 0) {
          await this.rotate();
          continue;
        }
      }
      const piece = chunk.subarray(offset, end);
      await this.fh!.write(piece);
      this.size += piece.length;
      this.stats.writtenBytes += piece.length;
      offset += piece.length;
    }
  }

  private async ensureOpen(): Promise<void> {
    if (this.fh) return;
    this.fh = await open(this.o.file, "a");
    this.size = (await this.fh.stat()).size;
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    const f = this.o.file;
    const keep = this.o.keepFiles;
    await rm(`${f}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) await rename(`${f}.${i}`, `${f}.${i + 1}`).catch(() => undefined);
    if (keep > 0) await rename(f, `${f}.1`);
    else await rm(f, { force: true });
    this.stats.rotations++;
    if (this.o.maxTotalBytes && this.o.capDirs?.length) enforceTotalCap(this.o.capDirs, this.o.maxTotalBytes);
    await this.ensureOpen();
  }
}

/** Total bytes of a log's files (the live one and its rotations). */
export async function logBytes(file: string): Promise<number> {
  let total = 0;
  for (const f of logFiles(file)) total += await stat(f).then((s) => s.size, () => 0);
  return total;
}
