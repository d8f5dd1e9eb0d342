import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { NameSchema, type EventOf, type Logger } from "@vigil/events";
import type { Emit } from "./emit.js";

export interface PruneResult {
  removedFiles: number;
  freedBytes: number;
  /** Log bytes left on disk per log name (worker or service), most first. */
  writers: Array<{ worker: string; bytes: number }>;
  errors: string[];
}

const ROTATED = /^(.+)\.log\.(\d+)$/;
const LIVE = /^(.+)\.log$/;

/**
 * The disk-pressure policy's first step (cmd.logs.prune): in each log folder, delete the rotated
 * files `<name>.log.<n>` with n > keepRotated (1 is the newest), never a live `<name>.log` (a writer
 * has it open). Then measure what each log still takes: who writes the most, for the next step.
 */
export async function pruneRotatedLogs(dirs: readonly string[], keepRotated: number): Promise<PruneResult> {
  const r: PruneResult = { removedFiles: 0, freedBytes: 0, writers: [], errors: [] };
  const bytes = new Map<string, number>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") r.errors.push(`${dir}: ${(err as Error).message}`);
      continue;
    }
    for (const n of names) {
      const rotated = ROTATED.exec(n);
      const name = rotated?.[1] ?? LIVE.exec(n)?.[1];
      if (!name) continue;
      const file = join(dir, n);
      try {
        const size = (await stat(file)).size;
        if (rotated && Number(rotated[2]) > keepRotated) {
          await unlink(file);
          r.removedFiles++;
          r.freedBytes += size;
        } else bytes.set(name, (bytes.get(name) ?? 0) + size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT" && r.errors.length < 20) r.errors.push(`${file}: ${(err as Error).message}`);
      }
    }
  }
  r.writers = [...bytes]
    .filter(([name]) => NameSchema.safeParse(name).success)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 200)
    .map(([worker, b]) => ({ worker, bytes: b }));
  return r;
}

/** Runs a cmd.logs.prune and reports out.logs.pruned (or out.command.failed) under the command's incident. */
export async function executeLogPrune(cmd: EventOf<"cmd.logs.prune">, dirs: readonly string[], emit: Emit, log: Logger): Promise<void> {
  const meta = { incident: cmd.incident, causation: cmd.id, correlation: cmd.correlation ?? cmd.incident };
  try {
    const r = await pruneRotatedLogs(dirs, cmd.data.keepRotated);
    log.info({ command: cmd.id, removedFiles: r.removedFiles, freedBytes: r.freedBytes }, "rotated logs pruned");
    await emit("out.logs.pruned", { command: cmd.id, removedFiles: r.removedFiles, freedBytes: r.freedBytes, writers: r.writers, ...(r.errors.length ? { errors: r.errors.map((e) => e.slice(0, 512)) } : {}) }, meta);
  } catch (err) {
    await emit("out.command.failed", { command: cmd.id, action: "prune-logs", worker: "supervisor", error: (err as Error).message }, meta);
  }
}
