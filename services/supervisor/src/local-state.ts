import { Level } from "level";
import { readFileSync, writeFileSync, renameSync } from "node:fs";

/**
 * Command ids the supervisor has executed, on disk, so a command redelivered or re-decided after a
 * crash runs at most once. Entries older than `keepMs` are pruned at open.
 */
export class ExecutedCommands {
  private constructor(private readonly db: Level<string, string>) {}

  static async open(dir: string, keepMs: number, now = Date.now()): Promise<ExecutedCommands> {
    const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
    await db.open();
    const old: string[] = [];
    for await (const [k, v] of db.iterator()) if (now - Number(v) > keepMs) old.push(k);
    if (old.length) await db.batch(old.map((key) => ({ type: "del" as const, key })));
    return new ExecutedCommands(db);
  }

  async has(id: string): Promise<boolean> {
    return (await this.db.get(id)) !== undefined;
  }

  async add(id: string): Promise<void> {
    await this.db.put(id, String(Date.now()));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** `/proc/<pid>/stat` field 22: when the process started, so a reused pid is never mistaken for ours. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * The pids of running workers, written on every change. A supervisor that was killed with -9 could
 * not stop its workers; the next one finds them here and stops them before starting fresh ones.
 */
export class PidRegistry {
  constructor(private readonly file: string) {}

  write(pids: Record<string, number>): void {
    const entries = Object.fromEntries(Object.entries(pids).map(([w, pid]) => [w, { pid, start: processStartTime(pid) }]));
    writeFileSync(this.file + ".tmp", JSON.stringify(entries));
    renameSync(this.file + ".tmp", this.file);
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
