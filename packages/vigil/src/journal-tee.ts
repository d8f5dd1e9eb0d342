/**
 * Under journald, the services' important lines also reach the journal (docs/unattended.md): vigil up
 * drains each service's pipes into its bounded file, and this passes the lines at or above
 * `logs.journalLevel` on to vigil up's own stdout, which is the journal. The files keep everything;
 * the journal gets what an operator must see, bounded by journald's own limits.
 */
export type JournalLevel = "off" | "error" | "warn" | "info";

/** pino's numbers, as the services' logs carry them. */
const MIN_LEVEL: Record<Exclude<JournalLevel, "off">, number> = { error: 50, warn: 40, info: 30 };

/** A line longer than this is cut (a runaway line must not grow vigil up's memory). */
export const JOURNAL_LINE_MAX = 16 * 1024;

/**
 * The level of one service line: pino's `"level":N`, or error for a line that is not JSON (a crash's
 * stack trace on stderr is exactly what the journal must get).
 */
export function lineLevel(line: string): number {
  const m = /"level":(\d+)/.exec(line.slice(0, 200));
  if (m && line.startsWith("{")) return Number(m[1]);
  return 50;
}

/** A JSON line for the journal from a service's non-JSON output, so `journalctl -o cat | jq` still reads every line. */
function asJsonLine(service: string, line: string, now: number): string {
  return JSON.stringify({ level: 50, time: now, service, msg: line });
}

/**
 * A sink for one service's output chunks: splits them into lines (a partial line waits for its end,
 * cut at JOURNAL_LINE_MAX) and writes the lines at or above `level` to `write`, one per call.
 */
export function journalTee(service: string, level: JournalLevel, write: (line: string) => void, now: () => number = Date.now): (chunk: Buffer | string) => void {
  if (level === "off") return () => {};
  const min = MIN_LEVEL[level];
  let partial = "";
  return (chunk) => {
    const text = partial + chunk.toString();
    const lines = text.split("\n");
    partial = (lines.pop() ?? "").slice(0, JOURNAL_LINE_MAX);
    for (const raw of lines) {
      const line = raw.slice(0, JOURNAL_LINE_MAX);
      if (!line.trim() || lineLevel(line) < min) continue;
      write(`${line.startsWith("{") ? line : asJsonLine(service, line, now())}\n`);
    }
  };
}
