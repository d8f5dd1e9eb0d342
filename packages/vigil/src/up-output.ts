import { fstatSync } from "node:fs";
import { isatty } from "node:tty";

/**
 * How `vigil up` prints its own lines (its `vigil: …` messages and the live event feed): plain text
 * in a terminal or a pipe, JSON lines under journald so `journalctl -u vigil -o cat | jq` works
 * (docs/unattended.md). The services' logs are not these: they go to their bounded files.
 */
export type UpOutputFormat = "text" | "json";

/** pino's numbers, as in the services' logs, so one `jq 'select(.level >= 40)'` reads both. */
const LEVELS = { info: 30, warn: 40 } as const;
export type UpLevel = keyof typeof LEVELS;

/**
 * JSON when stdout is the journal: systemd sets JOURNAL_STREAM to `<dev>:<inode>` of the stream it
 * connected, and only when that is stdout (not a terminal, not a pipe a test reads) is it JSON.
 * `VIGIL_UP_OUTPUT=json|text` overrides.
 */
export function upOutputFormat(env: NodeJS.ProcessEnv, fd = 1): UpOutputFormat {
  const forced = env.VIGIL_UP_OUTPUT;
  if (forced === "json" || forced === "text") return forced;
  const stream = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!stream || isatty(fd)) return "text";
  try {
    const s = fstatSync(fd);
    return s.dev === Number(stream[1]) && s.ino === Number(stream[2]) ? "json" : "text";
  } catch {
    return "text";
  }
}

/**
 * vigil up's messages carry no level of their own (one `say` is passed to every part of it); these
 * words mark the ones an operator must look at, so they are warnings in the journal.
 */
const WARNING = /\b(died|cannot|could not|refused|killing|failed|invalid|not allowed|did not|lost|second SIG\w+)\b/i;

export function levelOf(msg: string): UpLevel {
  return WARNING.test(msg) ? "warn" : "info";
}

/** One of vigil up's own messages, as a line: `vigil: <msg>` or `{"level","time","service":"vigil","msg"}`. */
export function upLine(format: UpOutputFormat, msg: string, now = Date.now()): string {
  if (format === "text") return `vigil: ${msg}\n`;
  return `${JSON.stringify({ level: LEVELS[levelOf(msg)], time: now, service: "vigil", msg })}\n`;
}

/** One line of the live event feed: the readable line, and under JSON the event's type, seq and incident beside it. */
export function feedLine(format: UpOutputFormat, text: string, e: { type: string; seq?: number; incident?: string; subject?: string }, now = Date.now()): string {
  if (format === "text") return `${text}\n`;
  return `${JSON.stringify({ level: LEVELS.info, time: now, service: "vigil", msg: text, event: { type: e.type, ...(e.seq !== undefined ? { seq: e.seq } : {}), ...(e.incident ? { incident: e.incident } : {}) } })}\n`;
}
