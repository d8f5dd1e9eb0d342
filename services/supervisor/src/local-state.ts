import { Level } from "level";
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { readPidStat } from "@vigil/events";
import { systemClock, type Clock } from "./clock.js";

/**
 * Command ids the supervisor has executed, on disk, so a command redelivered or re-decided after a
 * crash runs at most once. Entries older than `keepMs` (the stream's max age: no delivery can be
 * older) are pruned at open, and while running at most every PRUNE_EVERY_MS: a supervisor up for
 * months would otherwise hold every id it ever ran (one per restart) in memory and on disk.
 */
export class ExecutedCommands {
  private lastPrune: number;

  private constructor(
    private readonly db: Level<string, string>,
    private readonly clock: Clock,
    private readonly keepMs: number,
    /** Every id the store holds, with when it ran (insertion order is time order): read once at open, so `has` needs no trip to the disk's thread pool (the recovery path, issue 13). */
    private readonly known: Map<string, number>,
  ) {
    this.lastPrune = clock.now();
  }

  static async open(dir: string, keepMs: number, clock: Clock = systemClock): Promise<ExecutedCommands> {
    const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
    await db.open();
    const now = clock.now();
    const old: string[] = [];
    const kept: Array<[string, number]> = [];
    for await (const [k, v] of db.iterator()) {
      if (now - Number(v) > keepMs) old.push(k);
      else kept.push([k, Number(v)]);
    }
    if (old.length) await db.batch(old.map((key) => ({ type: "del" as const, key })));
    return new ExecutedCommands(db, clock, keepMs, new Map(kept.sort((a, b) => a[1] - b[1])));
  }

  async has(id: string): Promise<boolean> {
    return this.known.has(id);
  }

  /** Synced before the command runs: after a power cut an executed command is still known (at most once). */
  async add(id: string): Promise<void> {
    const now = this.clock.now();
    await this.db.put(id, String(now), { sync: true });
    this.known.set(id, now);
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.pruned = this.prune(now);
  }

  /** The prune in flight, if any (close waits for it; tests too). */
  pruned: Promise<void> = Promise.resolve();

  private async prune(now: number): Promise<void> {
    this.lastPrune = now;
    const old: string[] = [];
    for (const [id, at] of this.known) {
      if (now - at <= this.keepMs) break;
      old.push(id);
    }
    for (const id of old) this.known.delete(id);
    // Not synced: an old id left on disk by a cut is pruned again at the next open.
    if (old.length) await this.db.batch(old.map((key) => ({ type: "del" as const, key }))).catch(() => undefined);
  }

  /** How many ids are held (memory and disk hold the same). */
  size(): number {
    return this.known.size;
  }

  async close(): Promise<void> {
    await this.pruned;
    return this.db.close();
  }
}

/** How often a running supervisor forgets ids older than keepMs. */
export const PRUNE_EVERY_MS = 3_600_000;

/** `/proc/<pid>/stat` field 22: when the process started, so a reused pid is never mistaken for ours (kept as text, as pids.json has it). */
export function processStartTime(pid: number): string | undefined {
  const stat = readPidStat(pid);
  return stat ? String(stat.starttime) : undefined;
}

/**
 * The pids of running workers, written on every change. A supervisor that was killed with -9 could
 * not stop its workers; the next one finds them here and stops them before starting fresh ones.
 */
export class PidRegistry {
  private latest?: Record<string, number>;
  /** The write loop, while it runs. */
  private writing?: Promise<void>;

  constructor(
    private readonly file: string,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /**
   * Written in the background, one write at a time, the latest pids winning. Not synchronous: a
   * worker's exit is reported in the same tick, and a synchronous write and rename (which waits on a
   * busy disk's journal: the durability barrier fsyncs the store every 25 ms under load) held the
   * supervisor's event loop right when the decider's restart for that exit arrived (issue 13).
   */
  write(pids: Record<string, number>): void {
    this.latest = pids;
    this.writing ??= this.writeAll().finally(() => (this.writing = undefined));
  }

  private async writeAll(): Promise<void> {
    while (this.latest) {
      const pids = this.latest;
      this.latest = undefined;
      const entries = Object.fromEntries(Object.entries(pids).map(([w, pid]) => [w, { pid, start: processStartTime(pid) }]));
      await writeFile(this.file + ".tmp", JSON.stringify(entries)).then(() => rename(this.file + ".tmp", this.file)).catch((err: Error) => this.onError(err));
    }
  }

  /** Resolves once what was written so far is in the file (shutdown, tests). */
  async settled(): Promise<void> {
    await this.writing;
  }

  /** Kills the process groups of workers left by an earlier run; returns what it killed. */
  reapOrphans(): Array<{ worker: string; pid: number }> {
    let entries: Record<string, { pid: number; start?: string }>;
    try {
      entries = JSON.parse(readFileSync(this.file, "utf8"));
    } catch {
      return [];
    }
    const killed: Array<{ worker: string; pid: number }> = [];
    for (const [worker, { pid, start }] of Object.entries(entries)) {
      if (start && processStartTime(pid) === start) {
        try {
          process.kill(-pid, "SIGKILL");
          killed.push({ worker, pid });
        } catch {
          /* gone meanwhile */
        }
      }
    }
    this.write({});
    return killed;
  }
}
