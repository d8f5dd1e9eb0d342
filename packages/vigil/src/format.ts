import { eventName, summarise } from "@vigil/events";

/**
 * One readable line per event, for `vigil up`'s live feed, `vigil events` and `vigil replay`: its
 * sequence, time and kind, the summary every view shares (libs/events summary.ts), its incident.
 */
export function formatEvent(e: { type: string; data: unknown; time: string; incident?: string; seq?: number }): string {
  const name = eventName(e) ?? e.type;
  const time = e.time.slice(11, 23);
  const inc = e.incident ? ` [incident ${e.incident.slice(0, 8)}]` : "";
  const seq = e.seq !== undefined ? `#${e.seq} ` : "";
  return `${seq}${time} ${name.split(".")[0]} ${summarise(e)}${inc}`;
}

/** A plain text table: header, rows, columns padded to the widest cell. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? "").padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
