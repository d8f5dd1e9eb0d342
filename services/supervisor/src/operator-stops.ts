import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Workers an operator stopped (`vigil stop`), on disk in the supervisor's data dir and synced: a
 * stopped worker stays stopped across crashes, reloads, degraded mode and supervisor restarts
 * (kill -9 included) until an operator starts or restarts it. Written before the stop runs, so a
 * crash in between cannot bring the worker back.
 */
export class OperatorStops {
  private readonly stopped: Set<string>;

  constructor(private readonly file: string) {
    this.stopped = new Set(readList(file));
  }

  has(worker: string): boolean {
    return this.stopped.has(worker);
  }

  list(): string[] {
    return [...this.stopped];
  }

  set(worker: string): void {
    if (this.stopped.has(worker)) return;
    this.stopped.add(worker);
    this.save();
  }

  clear(worker: string): void {
    if (!this.stopped.delete(worker)) return;
    this.save();
  }

  /** Write, fsync, rename, fsync the folder: the file is either the old list or the new one after a power cut. */
  private save(): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify({ stopped: [...this.stopped] }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dir = openSync(dirname(this.file), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

function readList(file: string): string[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    const list = (parsed as { stopped?: unknown })?.stopped;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}
