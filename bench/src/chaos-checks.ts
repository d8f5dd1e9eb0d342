// The chaos run's verdicts, as pure functions of what was recorded (npm run chaos; docs/chaos.md).
import { median } from "./lib/stats.js";

/** A stream event reduced to what the checks need. */
export interface StreamEntry {
  seq: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** Every event in the stream up to `cutSeq` must be at the sink exactly once (by id). */
export function checkDelivery(stream: StreamEntry[], cutSeq: number, sinkIds: string[]): { events: number; lost: number; lostSeqs: number[]; duplicates: number; duplicateIds: string[]; atSink: number } {
  const seen = new Map<string, number>();
  for (const id of sinkIds) seen.set(id, (seen.get(id) ?? 0) + 1);
  const duplicateIds = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const lostSeqs: number[] = [];
  let events = 0;
  for (const e of stream) {
    if (e.seq > cutSeq) continue;
    events++;
    if (!seen.has(e.id)) lostSeqs.push(e.seq);
  }
  return { events, lost: lostSeqs.length, lostSeqs, duplicates: duplicateIds.length, duplicateIds, atSink: seen.size };
}

export interface WorkerCrash {
  worker: string;
  seq: number;
  time: string;
  code: number | null;
  signal: string | null;
  recoveredSeq?: number;
  recoveryMs?: number;
  escalated: boolean;
}

const t = (iso: string) => Date.parse(iso);

/** The worker runs again: a fresh start by the supervisor, or the outcome of a restart/start command (decider or reflex). */
const BACK_UP = ["obs.worker.started", "out.worker.restarted", "out.worker.started"];

/**
 * Every unexpected `obs.worker.exited` must be followed by the same worker running again (BACK_UP),
 * unless the decider escalated the worker (crash-loop breaker) in between.
 */
export function checkRecovery(stream: Array<StreamEntry & { time: string }>, workers: string[]): { crashes: WorkerCrash[]; unrecovered: WorkerCrash[]; escalations: number } {
  const crashes: WorkerCrash[] = [];
  const open = new Map<string, WorkerCrash[]>();
  let escalations = 0;
  for (const e of stream) {
    const worker = typeof e.data.worker === "string" ? e.data.worker : undefined;
    if (!worker || !workers.includes(worker)) continue;
    if (e.type.endsWith("obs.worker.exited") && e.data.expected === false) {
      const c: WorkerCrash = { worker, seq: e.seq, time: e.time, code: (e.data.code as number | null) ?? null, signal: (e.data.signal as string | null) ?? null, escalated: false };
      crashes.push(c);
      open.set(worker, [...(open.get(worker) ?? []), c]);
    } else if (BACK_UP.some((b) => e.type.endsWith(b))) {
      for (const c of open.get(worker) ?? []) {
        c.recoveredSeq = e.seq;
        c.recoveryMs = t(e.time) - t(c.time);
      }
      open.delete(worker);
    } else if (e.type.endsWith("dec.incident.escalated")) {
      escalations++;
      for (const c of open.get(worker) ?? []) c.escalated = true;
    }
  }
  return { crashes, unrecovered: crashes.filter((c) => c.recoveredSeq === undefined && !c.escalated), escalations };
}

export interface RssSeries {
  service: string;
  pid: number;
  /** [ms since the run started, RSS in MB] */
  samples: Array<[number, number]>;
}

/**
 * Memory growth per service incarnation: the median RSS of its first minute against its last minute.
 * Incarnations that lived less than `minLifeMs` are listed but not judged (the two minutes would overlap).
 */
export function rssGrowth(series: RssSeries[], minLifeMs = 150_000, windowMs = 60_000): Array<{ service: string; pid: number; lifeS: number; firstMb?: number; lastMb?: number; growthPct?: number }> {
  return series.map((s) => {
    const first = s.samples[0]?.[0] ?? 0;
    const last = s.samples.at(-1)?.[0] ?? 0;
    const lifeS = Math.round((last - first) / 1000);
    if (last - first < minLifeMs) return { service: s.service, pid: s.pid, lifeS };
    const firstMb = median(s.samples.filter(([at]) => at <= first + windowMs).map(([, mb]) => mb));
    const lastMb = median(s.samples.filter(([at]) => at >= last - windowMs).map(([, mb]) => mb));
    return { service: s.service, pid: s.pid, lifeS, firstMb: round1(firstMb), lastMb: round1(lastMb), growthPct: round1(((lastMb - firstMb) / firstMb) * 100) };
  });
}

export const round1 = (n: number) => Math.round(n * 10) / 10;

/** Log lines at pino level ≥ 50 that the injected faults explain, by cause. Anything else is unexpected. */
export const EXPECTED_ERRORS: Array<[cause: string, pattern: RegExp]> = [
  ["nats-server killed (connection refused / lost / timed out)", /CONNECTION_REFUSED|ECONNREFUSED|ECONNRESET|disconnect|connection (closed|lost|refused)|TIMEOUT|timed? ?out|no responders|503|JetStream.*(not|unavailable)|stale connection|closed/i],
  ["cloud sink down or hung (telemetry upload)", /upload|sink|cloud|socket hang up|fetch failed|breaker/i],
];

export interface LogLine {
  file: string;
  level: number;
  msg: string;
  text: string;
}

export function classifyErrors(lines: LogLine[]): { total: number; expected: Record<string, number>; unexpected: LogLine[] } {
  const expected: Record<string, number> = {};
  const unexpected: LogLine[] = [];
  for (const l of lines) {
    const hit = EXPECTED_ERRORS.find(([, re]) => re.test(l.text));
    if (hit) expected[hit[0]] = (expected[hit[0]] ?? 0) + 1;
    else unexpected.push(l);
  }
  return { total: lines.length, expected, unexpected };
}

/** mulberry32: a small seeded PRNG, so a run's fault schedule can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export type FaultKind = { kind: "kill-service"; service: string } | { kind: "kill-nats" } | { kind: "sink-outage" } | { kind: "sink-hang" };

/** Each service killed once, nats-server once, one sink outage and one hang, plus random extras, at random moments. */
export function planFaults(rand: () => number, services: readonly string[], durationMs: number, extra: number): Array<{ atMs: number; fault: FaultKind; holdMs: number }> {
  const base: FaultKind[] = [...services.map((service) => ({ kind: "kill-service", service }) as FaultKind), { kind: "kill-nats" }, { kind: "sink-outage" }, { kind: "sink-hang" }];
  const pool = [...base];
  for (let i = 0; i < extra; i++) pool.push(base[Math.floor(rand() * base.length)]!);
  // shuffle (Fisher–Yates)
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const start = Math.min(20_000, durationMs * 0.1);
  const end = durationMs - Math.min(30_000, durationMs * 0.15);
  const times = pool.map(() => start + rand() * (end - start)).sort((a, b) => a - b);
  const hold = (f: FaultKind) => (f.kind === "kill-nats" ? 3_000 + rand() * 7_000 : f.kind === "sink-outage" ? 10_000 + rand() * 20_000 : f.kind === "sink-hang" ? 15_000 + rand() * 15_000 : 0);
  return pool.map((fault, i) => ({ atMs: Math.round(times[i]!), fault, holdMs: Math.round(hold(fault)) }));
}
