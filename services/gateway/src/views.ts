import { eventName, stageOf, summarise, type DataOf, type Stage, type DeciderState, type IncidentView, type AnyVigilEvent, type VigilEvent, type WorkerConfig } from "@vigil/events";

/**
 * `rec[key]` when `rec` has it as its own property: ids from the network (`__proto__`, `constructor`,
 * `toString`…) must not find what every object inherits. Works on plain and null-prototype records.
 */
export function ownEntry<T>(rec: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return rec !== undefined && rec !== null && Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** What the console shows of one worker: the decider's view, with what the supervisor last reported. */
export interface WorkerRow {
  name: string;
  declared: boolean;
  essential: boolean;
  status: string;
  pid?: number;
  restarts: number;
  startedAt?: number;
  incident?: string;
  /** From the latest health sample: % of one core, and resident memory. */
  cpuPct?: number;
  rssBytes?: number;
}

export interface SupervisorReport {
  at: string;
  workers: Array<{ name: string; status: string; pid?: number; restarts: number }>;
}

/**
 * Declared workers first (in config order), then any the decider knows that the config does not.
 * The decider's state is the source; the supervisor's heartbeat fills in workers the decider has not
 * seen yet (e.g. before the first event was folded).
 */
export function workerRows(
  declared: ReadonlyArray<Pick<WorkerConfig, "name" | "essential">>,
  state: DeciderState | undefined,
  report: SupervisorReport | undefined,
  sample?: Pick<DataOf<"obs.health.sample">, "workers">,
): WorkerRow[] {
  const names = declared.map((w) => w.name);
  for (const n of Object.keys(state?.workers ?? {})) if (!names.includes(n)) names.push(n);
  return names.map((name) => {
    const cfg = declared.find((w) => w.name === name);
    const w = ownEntry(state?.workers, name);
    const hb = report?.workers.find((x) => x.name === name);
    const row: WorkerRow = {
      name,
      declared: cfg !== undefined,
      essential: cfg?.essential ?? false,
      status: w && w.status !== "unknown" ? w.status : hb?.status ?? "unknown",
      restarts: w?.restarts ?? 0,
    };
    const pid = w && w.status !== "unknown" ? w.pid : hb?.pid;
    if (pid !== undefined) row.pid = pid;
    if (w?.startedAt !== undefined) row.startedAt = w.startedAt;
    if (w?.incident) row.incident = w.incident;
    const res = sample?.workers.find((x) => x.worker === name);
    if (res) {
      row.cpuPct = res.cpuPct;
      row.rssBytes = res.rssBytes;
    }
    return row;
  });
}

/** Incidents newest first. */
export function incidentList(state: DeciderState | undefined): IncidentView[] {
  return Object.values(state?.incidents ?? {}).sort((a, b) => b.openedAt.localeCompare(a.openedAt));
}

// One summariser and one chain classifier for the CLI, the gateway and the page (libs/events summary.ts).
export { stageOf, type Stage } from "@vigil/events";

/**
 * An event as the gateway sends it to the console: the CloudEvent and its stream `seq`, plus `summary`
 * (the line a person reads) and `stage` (its place in an incident's chain): the page has no build
 * step and no copy of the summariser (docs/console-protocol.md).
 */
export function consoleEvent<E extends AnyVigilEvent & { seq: number }>(e: E): E & { summary: string; stage: Stage } {
  return { ...e, summary: summarise(e), stage: stageOf(e) };
}

/** Whether an event belongs to an incident (the id travels as `incident`, and as `correlation` on decisions). */
export function inIncident(e: Pick<VigilEvent, "incident" | "correlation">, id: string): boolean {
  return e.incident === id || e.correlation === id;
}

export interface HealthPoint {
  t: number;
  cpu?: number;
  mem?: number;
  /** null: the sample says the device has no thermal sensor (the page says so rather than "no data"). */
  temp?: number | null;
}

function num(...vs: unknown[]): number | undefined {
  for (const v of vs) if (typeof v === "number" && Number.isFinite(v)) return v;
  return undefined;
}

/**
 * A chart point from a health sample (`obs.health.sample`) or, lacking one, the telemetry heartbeat's
 * CPU and memory. Field names are read defensively: the console must draw what is there and say
 * "no health data" otherwise, not fail.
 */
export function healthPoint(e: AnyVigilEvent): HealthPoint | undefined {
  const n = eventName(e) ?? e.type.slice("io.vigil.".length);
  const d = (e.data ?? {}) as Record<string, any>;
  const t = Date.parse(e.time);
  if (n === "obs.health.sample") {
    const memPct =
      num(d.memPct, d.memPercent, d.memoryPercent, d.mem?.percent, d.memory?.percent, d.memory?.usedPercent) ??
      (num(d.memory?.totalBytes, d.mem?.totalBytes) ? (100 * (1 - (num(d.memory?.availableBytes, d.memory?.freeBytes, d.mem?.availableBytes, d.mem?.freeBytes) ?? 0) / (num(d.memory?.totalBytes, d.mem?.totalBytes) ?? 1))) : undefined);
    const temps: number[] = Array.isArray(d.thermal) ? d.thermal.map((z: any) => num(z?.celsius, z?.tempC, z?.temperatureC)).filter((x: number | undefined): x is number => x !== undefined) : [];
    const p: HealthPoint = { t };
    const cpu = num(d.cpuPct, d.cpuPercent, d.cpu?.percent, d.cpu?.load, typeof d.cpu === "number" ? d.cpu : undefined);
    const temp = num(d.temperatureC, d.tempC, d.maxTempC, d.temperature?.maxC, d.temperature?.celsius, typeof d.temperature === "number" ? d.temperature : undefined, temps.length ? Math.max(...temps) : undefined);
    if (cpu !== undefined) p.cpu = cpu;
    if (memPct !== undefined) p.mem = memPct;
    if (temp !== undefined) p.temp = temp;
    else if (d.tempC === null) p.temp = null;
    return p;
  }
  if (n === "sys.telemetry.heartbeat") {
    const p: HealthPoint = { t };
    const cpu = num(d.cpu?.percent);
    if (cpu !== undefined) p.cpu = cpu;
    const total = num(d.memory?.totalBytes);
    const free = num(d.memory?.freeBytes);
    if (total && free !== undefined) p.mem = 100 * (1 - free / total);
    return p;
  }
  return undefined;
}
