/**
 * A labelled dataset in NAB's layout: `<dir>/<group>/<name>.csv` (`timestamp,value`) and
 * `<dir>/windows.json` mapping each file (relative path) to its anomaly windows `[start, end]`
 * (timestamps as in the CSV, optionally with fractional seconds). Any set in that layout can be scored.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface LabelledSeries {
  /** The file, relative to the dataset directory (windows.json's key). */
  name: string;
  /** Epoch ms of each sample. */
  times: number[];
  values: number[];
  /** Anomaly windows, epoch ms, inclusive. */
  windows: Array<[number, number]>;
}

/** "2014-02-26 13:45:00.000000" or "2014-02-26 13:45:00" → epoch ms (the timestamps carry no zone: read as UTC). */
export function parseTimestamp(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(s.trim());
  if (!m) throw new Error(`not a timestamp: "${s}"`);
  return Date.parse(`${m[1]}T${m[2]}Z`);
}

export function parseCsv(text: string, file: string): { times: number[]; values: number[] } {
  const times: number[] = [];
  const values: number[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (i === 0 || line.trim() === "") continue; // header
    const [t, v] = line.split(",");
    const x = Number(v);
    if (t === undefined || !Number.isFinite(x)) throw new Error(`${file}:${i + 1}: expected "timestamp,value", got "${line}"`);
    times.push(parseTimestamp(t));
    values.push(x);
  }
  return { times, values };
}

export function loadDataset(dir: string): LabelledSeries[] {
  const wf = join(dir, "windows.json");
  if (!existsSync(wf)) throw new Error(`${dir}: no windows.json (expected NAB's layout: <group>/<name>.csv and windows.json)`);
  const windows = JSON.parse(readFileSync(wf, "utf8")) as Record<string, Array<[string, string]>>;
  return Object.keys(windows)
    .sort()
    .filter((name) => existsSync(join(dir, name)))
    .map((name) => ({ name, ...parseCsv(readFileSync(join(dir, name), "utf8"), name), windows: windows[name]!.map(([a, b]) => [parseTimestamp(a), parseTimestamp(b)] as [number, number]) }));
}
