import { statfsSync } from "node:fs";
import { eventName, is, isOpenIncident, parseSubject, type AnyVigilEvent, type DataOf, type DeciderState } from "@vigil/events";

/** Counters the gateway keeps from the live feed (since it started), and the latest gauges from the bus. */
export interface Counters {
  events: Map<string, number>;
  invalid: number;
  breaker?: string;
  breakerAt?: string;
  /** Events in the stream not yet confirmed by the cloud: the latest a telemetry event said. */
  backlog?: number;
  commandsSent: Map<string, number>;
  commandsRefused: Map<string, number>;
  /** The latest `obs.health.sample` of this device (also from before the gateway started). */
  sample?: DataOf<"obs.health.sample">;
  /** The latest `sys.telemetry.heartbeat`. */
  telemetry?: DataOf<"sys.telemetry.heartbeat">;
  /** "worker\0probe" → the last passing probe's latency (ms), from `obs.probe.recovered`. */
  probeLatencyMs: Map<string, number>;
  /** "worker\0probe" → failure reports (`obs.probe.failed`) since the gateway started. */
  probeFailures: Map<string, number>;
  /** "policy\0action" → remediations decided since the gateway started. */
  remediations: Map<string, number>;
}

export function newCounters(): Counters {
  return { events: new Map(), invalid: 0, commandsSent: new Map(), commandsRefused: new Map(), probeLatencyMs: new Map(), probeFailures: new Map(), remediations: new Map() };
}

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

const BREAKER_STATES = ["closed", "open", "halfOpen", "idle"] as const;

/**
 * Keeps the latest value of what the gauges show (host and worker resources, probe latency, the
 * telemetry breaker and backlog): for every event the hub reads, stored ones included, so /metrics
 * has figures as soon as the gateway starts.
 */
export function noteLatest(c: Counters, e: AnyVigilEvent, device?: string): void {
  if (is(e, "obs.health.sample")) {
    if (device === undefined || e.device === device) c.sample = e.data;
  } else if (is(e, "sys.telemetry.heartbeat")) {
    c.telemetry = e.data;
    c.breaker = e.data.breaker;
    c.backlog = e.data.backlog;
    c.breakerAt = e.time;
  } else if (is(e, "sys.telemetry.breaker.opened") || is(e, "sys.telemetry.breaker.closed")) {
    c.breaker = is(e, "sys.telemetry.breaker.opened") ? "open" : "closed";
    c.backlog = e.data.backlog;
    c.breakerAt = e.time;
  } else if (is(e, "obs.probe.recovered") && e.data.latencyMs !== undefined) {
    c.probeLatencyMs.set(`${e.data.worker}\u0000${e.data.probe}`, e.data.latencyMs);
  }
}

/** Counts one live event (seen after the gateway started): by type, probe failures, remediations by policy; and notes its gauges. */
export function countEvent(c: Counters, e: AnyVigilEvent, device?: string): void {
  noteLatest(c, e, device);
  const kind = parseSubject(e.subject)?.kind ?? "unknown";
  const name = eventName(e) ?? e.type;
  bump(c.events, `${kind}\u0000${name}`);
  if (is(e, "obs.probe.failed")) bump(c.probeFailures, `${e.data.worker}\u0000${e.data.probe}`);
  else if (is(e, "dec.remediation.decided")) bump(c.remediations, `${e.data.policy}\u0000${e.data.action}`);
}

export interface ConsumerLag {
  name: string;
  /** Messages in the stream the consumer has not been delivered yet. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  redelivered: number;
}

/** Bytes of one filesystem, as statfs reports them. */
export interface FilesystemBytes {
  mount: string;
  sizeBytes: number;
  availBytes: number;
}

/**
 * Sizes of the mounts the latest health sample reports (its `disks` carry percentages only), read with
 * statfs by the gateway on its own host — the device under `vigil up`. A mount it cannot read is left out.
 */
export function filesystemBytes(mounts: readonly string[]): FilesystemBytes[] {
  const out: FilesystemBytes[] = [];
  for (const mount of mounts) {
    try {
      const f = statfsSync(mount);
      out.push({ mount, sizeBytes: f.blocks * f.bsize, availBytes: f.bavail * f.bsize });
    } catch {
      // gone or not visible from here: the percentage from the sample still shows
    }
  }
  return out;
}

export interface MetricsInput {
  device: string;
  counters: Counters;
  consumers: ConsumerLag[];
  state: DeciderState | undefined;
  stream?: { messages: number; bytes: number; lastSeq: number };
  clients: number;
  subscriptions: number;
  droppedEvents: number;
  /** Sizes of the sampled mounts (filesystemBytes) and the host's memory (os.totalmem): the gateway runs on the device. */
  filesystems?: FilesystemBytes[];
  memoryTotalBytes?: number;
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

type Rows = Array<[Record<string, string>, number]>;
type Write = (name: string, type: "counter" | "gauge", help: string, rows: Rows) => void;

const split2 = (k: string): [string, string] => {
  const [a = "", b = ""] = k.split("\u0000");
  return [a, b];
};

/** Host figures from the latest obs.health.sample, in node_exporter's units (percent gauges, bytes, celsius). */
function hostMetrics(metric: Write, m: MetricsInput): void {
  const s = m.counters.sample;
  if (!s) return;
  metric("vigil_host_cpu_usage_percent", "gauge", "CPU in use on the device, percent of all cores (latest health sample).", [[{}, s.cpuPct]]);
  metric("vigil_host_load1", "gauge", "1-minute load average (latest health sample).", [[{}, s.load1]]);
  metric("vigil_host_memory_usage_percent", "gauge", "Memory in use, percent (latest health sample).", [[{}, s.memPct]]);
  if (m.memoryTotalBytes) {
    metric("vigil_host_memory_total_bytes", "gauge", "Memory of the device, bytes.", [[{}, m.memoryTotalBytes]]);
    metric("vigil_host_memory_used_bytes", "gauge", "Memory in use, bytes (sample percent of the total).", [[{}, Math.round((s.memPct / 100) * m.memoryTotalBytes)]]);
  }
  metric("vigil_host_filesystem_usage_percent", "gauge", "Space used per watched mount, percent (latest health sample).", s.disks.map((d) => [{ mountpoint: d.mount }, d.usedPct]));
  const fs = m.filesystems ?? [];
  metric("vigil_host_filesystem_size_bytes", "gauge", "Size of each watched mount, bytes.", fs.map((f) => [{ mountpoint: f.mount }, f.sizeBytes]));
  metric("vigil_host_filesystem_avail_bytes", "gauge", "Space available to unprivileged users on each watched mount, bytes.", fs.map((f) => [{ mountpoint: f.mount }, f.availBytes]));
  metric("vigil_host_thermal_sensor_present", "gauge", "1 when the health service could read a thermal sensor, 0 when the device has none.", [[{}, s.tempC === null ? 0 : 1]]);
  if (s.tempC !== null) metric("vigil_host_temperature_celsius", "gauge", "Hottest thermal zone, degrees Celsius (latest health sample).", [[{}, s.tempC]]);
  metric("vigil_worker_cpu_usage_percent", "gauge", "CPU of each managed worker, percent of one core (latest health sample).", s.workers.map((w) => [{ worker: w.worker }, w.cpuPct]));
  metric("vigil_worker_resident_memory_bytes", "gauge", "Resident memory of each managed worker, bytes (latest health sample).", s.workers.map((w) => [{ worker: w.worker }, w.rssBytes]));
}

/** Probes, remediations by policy and how often each (policy, action) fixed the problem (the decider's outcomes). */
function remediationMetrics(metric: Write, m: MetricsInput): void {
  const c = m.counters;
  metric("vigil_probe_duration_seconds", "gauge", "Latency of each worker's last passing liveness probe after a failure, seconds.", [...c.probeLatencyMs].map(([k, v]) => {
    const [worker, probe] = split2(k);
    return [{ worker, probe }, v / 1000];
  }));
  metric("vigil_probe_failures_total", "counter", "Liveness probe failure reports since the gateway started.", [...c.probeFailures].map(([k, v]) => {
    const [worker, probe] = split2(k);
    return [{ worker, probe }, v];
  }));
  metric("vigil_remediations_total", "counter", "Remediations decided since the gateway started, by policy and action (restarts by policy: action=\"restart\").", [...c.remediations].map(([k, v]) => {
    const [policy, action] = split2(k);
    return [{ policy, action }, v];
  }));
  const outcomes = Object.entries(m.state?.outcomes ?? {}).map(([k, o]) => {
    const [policy = k, action = ""] = k.split("/");
    return { labels: { policy, action }, o };
  });
  metric("vigil_remediation_attempts_total", "counter", "Remediations the decider has judged, by policy and action.", outcomes.map(({ labels, o }) => [labels, o.attempts]));
  metric("vigil_remediation_succeeded_total", "counter", "Remediations that fixed the problem, by policy and action.", outcomes.map(({ labels, o }) => [labels, o.succeeded]));
  metric("vigil_remediation_failed_total", "counter", "Remediations that did not fix the problem, by policy and action.", outcomes.map(({ labels, o }) => [labels, o.failed]));
  metric("vigil_remediation_success_ratio", "gauge", "Share of judged remediations that fixed the problem (0..1), by policy and action.", outcomes.filter(({ o }) => o.attempts > 0).map(({ labels, o }) => [labels, o.succeeded / o.attempts]));
}

/** Store-and-forward: the breaker and the backlog from sys.telemetry.* events. */
function telemetryMetrics(metric: Write, m: MetricsInput): void {
  const c = m.counters;
  if (c.breaker !== undefined) {
    metric("vigil_telemetry_breaker_state", "gauge", "The telemetry circuit breaker: 1 for its current state.", BREAKER_STATES.map((s) => [{ state: s }, c.breaker === s ? 1 : 0]));
  }
  if (c.backlog !== undefined) metric("vigil_telemetry_backlog_messages", "gauge", "Events in the stream not yet confirmed by the cloud.", [[{}, c.backlog]]);
  const t = c.telemetry;
  if (!t) return;
  metric("vigil_telemetry_forwarded_total", "counter", "Events the cloud confirmed (since telemetry started).", [[{}, t.forwarded]]);
  metric("vigil_telemetry_resent_total", "counter", "Events re-sent that the cloud already had.", [[{}, t.resent]]);
  metric("vigil_telemetry_dead_lettered_total", "counter", "Events the cloud refused for good.", [[{}, t.deadLettered]]);
  metric("vigil_telemetry_lost_total", "counter", "Events the stream discarded before they were forwarded.", [[{}, t.lost]]);
}

/** Prometheus text exposition format (version 0.0.4). Pure. */
export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const metric: Write = (name, type, help, rows) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(",");
      out.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  metric(
    "vigil_events_total",
    "counter",
    "Events seen on the bus since the gateway started, by kind and type.",
    [...m.counters.events.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => {
      const [kind = "", type = ""] = k.split("\u0000");
      return [{ kind, type }, v];
    }),
  );
  metric("vigil_invalid_events_total", "counter", "Payloads on the bus that are not valid Vigil events.", [[{}, m.counters.invalid]]);
  metric("vigil_consumer_pending_messages", "gauge", "Stream messages not yet delivered to each durable consumer (its lag).", m.consumers.map((c) => [{ consumer: c.name }, c.pending]));
  metric("vigil_consumer_ack_pending_messages", "gauge", "Messages delivered to each durable consumer and not yet acknowledged.", m.consumers.map((c) => [{ consumer: c.name }, c.ackPending]));
  metric("vigil_consumer_redelivered_messages", "gauge", "Messages redelivered to each durable consumer.", m.consumers.map((c) => [{ consumer: c.name }, c.redelivered]));
  const workers = Object.entries(m.state?.workers ?? {});
  metric("vigil_worker_restarts_total", "counter", "Restarts the decider decided per worker (since its state began).", workers.map(([name, w]) => [{ worker: name }, w.restarts]));
  metric("vigil_worker_up", "gauge", "1 when the worker is running.", workers.map(([name, w]) => [{ worker: name }, w.status === "running" ? 1 : 0]));
  const incidents = Object.values(m.state?.incidents ?? {});
  // Escalated incidents stay open until the worker is stable again or an operator acknowledges them.
  metric("vigil_incidents_open", "gauge", "Open incidents, escalated ones included until resolved or acknowledged.", [[{}, incidents.filter(isOpenIncident).length]]);
  metric("vigil_incidents_escalated", "gauge", "Escalated incidents among those the decider keeps.", [[{}, incidents.filter((i) => i.status === "escalated").length]]);
  hostMetrics(metric, m);
  remediationMetrics(metric, m);
  telemetryMetrics(metric, m);
  if (m.stream) {
    metric("vigil_stream_messages", "gauge", "Messages in the stream.", [[{}, m.stream.messages]]);
    metric("vigil_stream_bytes", "gauge", "Bytes in the stream.", [[{}, m.stream.bytes]]);
    metric("vigil_stream_last_sequence", "gauge", "The stream's last sequence.", [[{}, m.stream.lastSeq]]);
  }
  metric("vigil_gateway_clients", "gauge", "Connected WebSocket clients.", [[{}, m.clients]]);
  metric("vigil_gateway_subscriptions", "gauge", "Active WebSocket subscriptions.", [[{}, m.subscriptions]]);
  metric("vigil_gateway_dropped_events_total", "counter", "Events not sent to slow clients (each was told how many it missed).", [[{}, m.droppedEvents]]);
  metric("vigil_gateway_commands_total", "counter", "Commands published through the gateway, by action.", [...m.counters.commandsSent.entries()].map(([a, v]) => [{ action: a }, v]));
  metric("vigil_gateway_commands_refused_total", "counter", "Commands refused (role, rate limit, undeclared worker), by reason.", [...m.counters.commandsRefused.entries()].map(([r, v]) => [{ reason: r }, v]));
  return out.join("\n") + "\n";
}
