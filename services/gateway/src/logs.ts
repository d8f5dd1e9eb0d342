import { BUS_SERVICES, logDirs, parseSince, readLogLines, type LogKind, type VigilConfig } from "@vigil/events";
import { join } from "node:path";
import type { ReadBudget, Refusal } from "./read-budget.js";

/**
 * The bounded logs on this device (libs/events rotating-log.ts), served to the console: the same
 * files `vigil logs` reads, `<dataDir>/supervisor/logs/<worker>.log` and `<dataDir>/logs/<service>.log`.
 * Only a declared worker's or a Vigil service's name resolves to a file: the name is compared with
 * those lists (never used as a path or an object key), so `..`, `a/b` or `__proto__` are not found.
 */

/** The most lines one read returns (HTTP or WebSocket); more is taken as this many. */
export const MAX_LOG_LINES = 1_000;
/** Lines returned when the request does not say. */
export const DEFAULT_LOG_LINES = 100;

export interface LogTarget {
  name: string;
  kind: LogKind;
  file: string;
}

export type LogQuery = { lines: number; sinceMs?: number };
export type LogRead = { ok: true; name: string; kind: LogKind; lines: string[]; truncated: boolean } | Refusal | { ok: false; code: "not_found"; message: string };

/** The log of a declared worker (process or container) or of a Vigil service; undefined for any other name. */
export function resolveLog(config: VigilConfig, name: string): LogTarget | undefined {
  const dirs = logDirs(config.dataDir);
  if ([...config.workers, ...config.containers].some((w) => w.name === name)) return { name, kind: "worker", file: join(dirs.worker, `${name}.log`) };
  if ((BUS_SERVICES as readonly string[]).includes(name)) return { name, kind: "service", file: join(dirs.service, `${name}.log`) };
  return undefined;
}

/** What `resolveLog` knows, for a 404's message. */
export function knownLogs(config: VigilConfig): string[] {
  return [...config.workers, ...config.containers].map((w) => w.name).concat(BUS_SERVICES);
}

/**
 * `lines` (a whole number ≥ 0, capped at MAX_LOG_LINES) and `since` (`10m`, `30s`, `2h`, `1d` or an
 * ISO time) from a query string or a WebSocket frame; a problem names the parameter.
 */
export function parseLogQuery(lines: unknown, since: unknown): { ok: true; query: LogQuery } | { ok: false; message: string } {
  let n = DEFAULT_LOG_LINES;
  if (lines !== undefined && lines !== null) {
    n = typeof lines === "string" && /^\d+$/.test(lines) ? Number(lines) : typeof lines === "number" ? lines : NaN;
    if (!Number.isInteger(n) || n < 0) return { ok: false, message: `lines: a whole number ≥ 0 (at most ${MAX_LOG_LINES} are returned)` };
  }
  const query: LogQuery = { lines: Math.min(n, MAX_LOG_LINES) };
  if (since !== undefined && since !== null) {
    const ms = typeof since === "string" && since.length <= 64 ? parseSince(since) : undefined;
    if (ms === undefined) return { ok: false, message: "since: like 30s, 10m, 2h, 1d or an ISO date-time" };
    query.sinceMs = ms;
  }
  return { ok: true, query };
}

/**
 * The last lines of a log, against the token's read budget like a stream read: one slot while the
 * files are read, and every returned line spent from its per-minute allowance. `truncated`: the log
 * holds more lines than were returned (as far as one more line tells).
 */
export async function readLogFor(config: VigilConfig, budget: ReadBudget, who: string, name: string, q: LogQuery): Promise<LogRead> {
  const target = resolveLog(config, name);
  if (!target) return { ok: false, code: "not_found", message: `no log "${name.slice(0, 64)}": not a declared worker or a Vigil service (known: ${knownLogs(config).join(", ")})` };
  const slot = budget.reserveRead(who);
  if (!slot.ok) return slot;
  try {
    const got = q.lines === 0 ? [] : await readLogLines(target.file, { lines: q.lines + 1, ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs } : {}) });
    const truncated = got.length > q.lines;
    const lines = truncated ? got.slice(1) : got;
    budget.spend(who, lines.length);
    return { ok: true, name, kind: target.kind, lines, truncated };
  } finally {
    slot.release();
  }
}
