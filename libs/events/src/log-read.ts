import { existsSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { logFiles } from "./rotating-log.js";

/**
 * Reading the bounded logs (rotating-log.ts) back: `vigil logs` and the gateway's /api/logs/<name>.
 * Worker output is at `<dataDir>/supervisor/logs/<worker>.log`, a service's at `<dataDir>/logs/<service>.log`.
 */

export type LogKind = "worker" | "service";

export function logDirs(dataDir: string): Record<LogKind, string> {
  return { worker: join(dataDir, "supervisor", "logs"), service: join(dataDir, "logs") };
}

/** The live file of a worker's or service's log (a worker first when both exist), or undefined. */
export function findLog(dataDir: string, name: string): { kind: LogKind; file: string } | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) return undefined; // a name, never a path
  const dirs = logDirs(dataDir);
  for (const kind of ["worker", "service"] as const) {
    const file = join(dirs[kind], `${name}.log`);
    if (existsSync(file) || logFiles(file).length) return { kind, file };
  }
  return undefined;
}

/** `10m`, `30s`, `2h`, `1d` or an ISO time → epoch ms. */
export function parseSince(s: string, now = Date.now()): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s.trim());
  if (m) return now - Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as "s"];
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** A JSON log line's own time (pino's epoch ms `time`, or an ISO `time`), if it has one. */
function lineTime(line: string): number | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const t = (JSON.parse(line) as { time?: unknown }).time;
    if (typeof t === "number") return t;
    if (typeof t === "string") return Date.parse(t);
  } catch {
    /* not JSON */
  }
  return undefined;
}

/** The last `max` lines of one file, reading backwards in blocks (a 10 MB file costs only its end). */
async function tailOfFile(file: string, max: number): Promise<string[]> {
  const fh = await open(file, "r").catch(() => undefined);
  if (!fh) return [];
  try {
    const size = (await fh.stat()).size;
    let pos = size;
    let text = "";
    const block = 64 * 1024;
    while (pos > 0 && text.split("\n").length <= max + 1) {
      const len = Math.min(block, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      text = buf.toString("utf8") + text;
    }
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (pos > 0) lines.shift(); // the first one is cut
    return lines.slice(-max);
  } finally {
    await fh.close();
  }
}

/**
 * The last `lines` lines of a log across its rotated files, oldest first. With `sinceMs`, files last
 * written before it are skipped, and JSON lines (services' logs) older than it are left out; plain
 * worker output carries no time of its own, so its lines are filtered by their file's time only.
 */
export async function readLogLines(file: string, o: { lines?: number; sinceMs?: number } = {}): Promise<string[]> {
  const want = o.lines ?? 100;
  const out: string[] = [];
  for (const f of logFiles(file)) {
    if (out.length >= want) break;
    let mtime = 0;
    try {
      mtime = statSync(f).mtimeMs;
    } catch {
      continue;
    }
    if (o.sinceMs !== undefined && mtime < o.sinceMs) break;
    let got = await tailOfFile(f, want - out.length);
    if (o.sinceMs !== undefined) got = got.filter((l) => (lineTime(l) ?? Infinity) >= o.sinceMs!);
    out.unshift(...got);
  }
  return out.slice(-want);
}

/**
 * Follows a log: calls `onLines` with what is appended (and starts over when the file was rotated).
 * Polls the size every `intervalMs`: inotify misses renames on some file systems, and this is cheap.
 */
export function followLog(file: string, onLines: (lines: string[]) => void, intervalMs = 250): { stop(): void } {
  let pos = (() => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  })();
  let ino = (() => {
    try {
      return statSync(file).ino;
    } catch {
      return 0;
    }
  })();
  let partial = "";
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      let s;
      try {
        s = statSync(file);
      } catch {
        return;
      }
      if (s.ino !== ino || s.size < pos) {
        ino = s.ino;
        pos = 0;
        partial = "";
      }
      if (s.size === pos) return;
      const fh = await open(file, "r");
      try {
        const len = Math.min(s.size - pos, 4 * 1024 * 1024);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, pos);
        pos += len;
        const parts = (partial + buf.toString("utf8")).split("\n");
        partial = parts.pop() ?? "";
        if (parts.length) onLines(parts);
      } finally {
        await fh.close();
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick().catch(() => undefined), intervalMs);
  return { stop: () => clearInterval(timer) };
}
