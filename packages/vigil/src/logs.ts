import { findLog, followLog, logDirs, parseSince, readLogLines } from "@vigil/events";
import { readdirSync } from "node:fs";
import { runningSystem } from "./connect.js";
import { UsageError } from "./embedded-nats.js";

/**
 * `vigil logs <worker|service> [-f] [--since 10m] [--lines N]`: the bounded logs on this machine
 * (rotating-log.ts), read from the data dir directly: it works with the bus down, which is when
 * one wants them most.
 */
export async function logs(name: string | undefined, o: { config?: string; dataDir?: string; follow: boolean; since?: string; lines?: string; json: boolean }): Promise<number> {
  const { config } = runningSystem(o);
  const dirs = logDirs(config.dataDir);
  const known = () => Object.entries(dirs).flatMap(([kind, d]) => {
    try {
      return readdirSync(d).filter((f) => f.endsWith(".log")).map((f) => `${f.slice(0, -4)} (${kind})`);
    } catch {
      return [];
    }
  });
  if (!name) throw new UsageError(`which log? vigil logs <worker|service>. Logs in ${config.dataDir}: ${known().join(", ") || "none yet"}`);
  const log = findLog(config.dataDir, name);
  if (!log) throw new UsageError(`no log for "${name}" in ${config.dataDir} (known: ${known().join(", ") || "none yet"})`);
  const lines = o.lines === undefined ? 100 : Number(o.lines);
  if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`--lines "${o.lines}": a whole number`);
  const sinceMs = o.since === undefined ? undefined : parseSince(o.since);
  if (o.since !== undefined && sinceMs === undefined) throw new UsageError(`--since "${o.since}": like 30s, 10m, 2h, 1d or an ISO time`);
  const print = (ls: string[]) => {
    for (const l of ls) process.stdout.write(o.json ? `${JSON.stringify({ name, kind: log.kind, line: l })}\n` : `${l}\n`);
  };
  print(await readLogLines(log.file, { lines, sinceMs }));
  if (!o.follow) return 0;
  const f = followLog(log.file, print);
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  f.stop();
  return 0;
}
