/**
 * A synthetic device-metric series with injected anomalies, for the health benchmark: the metrics the
 * health service feeds its Isolation Forest (cpuPct, memPct, load1, tempC, workerCpuPct), ordinary
 * behaviour (a slow daily-like cycle, noise, harmless bursts) and labelled anomaly windows.
 */
export type AnomalyKind = "spike" | "small-spike" | "leak" | "stuck" | "heat";

export interface Window {
  kind: AnomalyKind;
  start: number;
  end: number; // inclusive
}

export interface Series {
  rows: number[][]; // [cpuPct, memPct, load1, tempC, workerCpuPct]
  windows: Window[];
}

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(1e-12, r()))) * Math.cos(2 * Math.PI * r());
}

const clamp = (x: number, lo = 0, hi = 100) => Math.max(lo, Math.min(hi, x));

export function makeSeries(seed: number, length = 6000, warm = 600): Series {
  const r = rng(seed);
  const g = () => gaussian(r);
  // Place anomalies with gaps, cycling through the kinds.
  const kinds: AnomalyKind[] = ["spike", "small-spike", "leak", "stuck", "heat"];
  const windows: Window[] = [];
  let t = warm;
  let k = Math.floor(r() * kinds.length);
  while (true) {
    t += 150 + Math.floor(r() * 150);
    const kind = kinds[k++ % kinds.length]!;
    const len = kind === "leak" ? 80 + Math.floor(r() * 40) : kind === "stuck" ? 20 + Math.floor(r() * 20) : 2 + Math.floor(r() * 3);
    if (t + len + 50 >= length) break;
    windows.push({ kind, start: t, end: t + len - 1 });
    t += len;
  }
  const rows: number[][] = [];
  let memLeak = 0;
  let burst = 0;
  let batch = 0;
  for (let i = 0; i < length; i++) {
    const cycle = Math.sin((2 * Math.PI * i) / 720);
    // Harmless bursts (a cron job): part of normal life, also for the detectors.
    if (burst === 0 && r() < 1 / 120) burst = 1 + Math.floor(r() * 3);
    const burstAdd = burst > 0 ? 20 + r() * 15 : 0;
    if (burst > 0) burst--;
    // A batch job (backup, compaction): a few samples above 90 % CPU about once an hour at 5 s
    // sampling — normal for the device, but over any static CPU threshold.
    if (batch === 0 && r() < 1 / 700) batch = 3 + Math.floor(r() * 4);
    const batchOn = batch > 0;
    if (batch > 0) batch--;
    const worker = clamp(18 + 6 * cycle + 3 * g() + burstAdd * 0.8);
    let cpu = clamp(worker + 10 + 4 * cycle + 3 * g() + burstAdd * 0.2);
    let mem = clamp(45 + 3 * Math.sin((2 * Math.PI * i) / 1500) + 0.4 * g());
    let temp = 48 + 0.15 * cpu + 0.6 * g();
    let load = Math.max(0, (cpu / 50) * 2 + 0.15 * g());
    let w = worker;
    const win = windows.find((x) => i >= x.start && i <= x.end);
    if (win?.kind === "leak") memLeak += 0.15;
    else if (memLeak > 0) memLeak = Math.max(0, memLeak - 2); // the leaking worker restarted
    mem = clamp(mem + memLeak);
    if (win?.kind === "spike") {
      w = 97 + 3 * r();
      cpu = clamp(92 + 6 * r());
      load = load + 1.5;
      temp += 4;
    } else if (win?.kind === "small-spike") {
      w = clamp(70 + 5 * r());
      cpu = clamp(75 + 5 * r());
      load += 0.8;
    } else if (win?.kind === "heat") {
      temp = 77 + 4 * r();
    }
    if (batchOn && !win) {
      cpu = clamp(91 + 6 * r());
      load += 1.2;
      temp += 2;
    }
    let row = [cpu, mem, load, temp, w];
    if (win?.kind === "stuck" && rows.length) row = [...rows[rows.length - 1]!]; // a frozen reading
    rows.push(row.map((x) => Math.round(x * 10) / 10));
  }
  return { rows, windows };
}

export interface Quality {
  precision: number;
  recall: number;
  /** Mean samples from a window's start to its first alarm (detected windows only). */
  delay: number;
  alarms: number;
  byKind: Record<string, { windows: number; detected: number }>;
}

/** Event recall (a window counts when any alarm falls in it, or within `grace` samples after it) and sample precision. */
export function evaluate(alarms: boolean[], windows: Window[], from: number, grace = 3): Quality {
  const inWindow = (i: number) => windows.some((w) => i >= w.start && i <= w.end + grace);
  let tp = 0;
  let total = 0;
  for (let i = from; i < alarms.length; i++) {
    if (!alarms[i]) continue;
    total++;
    if (inWindow(i)) tp++;
  }
  const byKind: Quality["byKind"] = {};
  const delays: number[] = [];
  for (const w of windows) {
    const k = (byKind[w.kind] ??= { windows: 0, detected: 0 });
    k.windows++;
    for (let i = w.start; i <= w.end + grace && i < alarms.length; i++) {
      if (alarms[i]) {
        k.detected++;
        delays.push(i - w.start);
        break;
      }
    }
  }
  const detected = Object.values(byKind).reduce((a, b) => a + b.detected, 0);
  return { precision: total ? tp / total : 0, recall: windows.length ? detected / windows.length : 0, delay: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : NaN, alarms: total, byKind };
}
