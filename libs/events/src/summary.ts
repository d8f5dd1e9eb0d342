import { isEventName, type DataOf, type EventName } from "./catalog.js";
import { TYPE_PREFIX } from "./envelope.js";

/**
 * One line a person reads for every event type in the catalog: what the CLI (`vigil events`, `vigil
 * up`'s feed) prints and what the gateway sends the console as `summary` (docs/console-protocol.md).
 * Never raw JSON. The table is a mapped type over the catalog's names: a new event type without a
 * summary here does not typecheck (and summary.unit.test.ts fails for it).
 */
type Summaries = { [N in EventName]: (d: DataOf<N>) => string };

const ms = (n: number): string => (n < 1_000 ? `${Math.round(n)} ms` : n < 120_000 ? `${(n / 1_000).toFixed(1)} s` : n < 7_200_000 ? `${Math.round(n / 60_000)} min` : `${(n / 3_600_000).toFixed(1)} h`);
const mib = (b: number): string => `${(b / 1_048_576).toFixed(b < 10 * 1_048_576 ? 1 : 0)} MiB`;
const pct = (n: number): string => `${n.toFixed(1)} %`;
const by = (who: string | undefined): string => (who && who !== "unknown" ? ` (by ${who})` : "");
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const list = (xs: readonly string[]): string => (xs.length ? xs.join(", ") : "none");

type Cmd = DataOf<"cmd.worker.restart">;
// "command: worker.restart sensor …" and "worker.restarted: sensor …": the words the CLI has always printed (scripts grep them).
const command = (action: string) => (d: Cmd) => `command: worker.${action} ${d.worker}${d.delayMs ? ` in ${ms(d.delayMs)}` : ""}${by(d.requestedBy)}${d.signal ? ` with ${d.signal}` : ""}`;
type Out = DataOf<"out.worker.restarted">;
const outcome = (done: string) => (d: Out) => `worker.${done}: ${d.worker}${d.pid ? ` pid ${d.pid}` : ""}${d.previousPid ? ` (was ${d.previousPid})` : ""}${by(d.requestedBy)}`;
type Iface = DataOf<"obs.net.discovery">["interfaces"][number];
const iface = (i: Iface): string => `${i.name} ${i.state}${i.ipv4.length ? ` ${i.ipv4.map((a) => `${a.address}/${a.prefix}`).join(" ")}` : ""}`;
type Vnics = DataOf<"out.container.reattached">["vnics"];
const vnics = (v: Vnics): string => (v.length ? v.map((a) => `${a.vnic} on ${a.network}${a.ip ? ` (${a.ip})` : ""}`).join(", ") : "no vNICs");
type Top = NonNullable<DataOf<"obs.health.sample">["top"]>;
const top = (t: Top): string => `${t.worker ?? `unmanaged ${t.name}`} (pid ${t.pid}) ${pct(t.cpuPct)}`;

const SUMMARIES: Summaries = {
  "obs.worker.started": (d) => `${d.worker} started, pid ${d.pid}${d.adopted ? " (running container adopted)" : ""}`,
  "obs.worker.exited": (d) => {
    const how = d.error ? `could not start: ${d.error}` : `(pid ${d.pid ?? "?"}) ${d.expected ? "stopped" : "exited"}: ${d.signal ? `signal ${d.signal}` : `code ${d.code}`}${d.oom ? " (out of memory)" : ""} after ${ms(d.uptimeMs)}`;
    // Degraded mode (docs/degraded-mode.md): the supervisor's reflex handled it.
    const reflex = !d.reflex ? "" : d.reflex.action === "restart" ? ` — degraded: restarted locally in ${ms(d.reflex.delayMs)}` : " — degraded: crash loop, not restarted";
    return `${d.worker} ${how}${reflex}`;
  },
  "obs.worker.stable": (d) => `${d.worker} stable (pid ${d.pid}, up ${ms(d.uptimeMs)})`,
  "obs.demo.reading": (d) => `sensor ${d.sensor} reading #${d.seq}: ${d.value}`,
  "obs.health.sample": (d) =>
    `cpu ${pct(d.cpuPct)} · mem ${pct(d.memPct)} · load ${d.load1.toFixed(2)} · ${d.tempC === null ? "no thermal sensor" : `${d.tempC.toFixed(1)} °C`}${d.top ? ` · busiest ${top(d.top)}` : ""}`,
  "obs.health.threshold.crossed": (d) => `${d.metric}${d.target ? ` ${d.target}` : ""} crossed ${d.above}: ${d.value}${d.top ? ` (busiest: ${top(d.top)})` : ""}`,
  "obs.health.threshold.recovered": (d) => `${d.metric}${d.target ? ` ${d.target}` : ""} recovered below ${d.recoverBelow}: ${d.value}`,
  "obs.health.anomaly": (d) => `anomaly score ${d.score.toFixed(2)} (threshold ${d.threshold}; ${d.feature} ${d.deviation.toFixed(1)} σ off)${d.worker ? `; busiest worker ${d.worker} ${pct(d.workerCpuPct ?? 0)}` : ""}`,
  "obs.health.problem": (d) => `health cannot read ${d.what}${d.path ? ` (${d.path})` : ""}: ${d.error}`,
  "obs.probe.failed": (d) => `${d.worker} ${d.probe} probe failed ${d.failures}× (threshold ${d.failureThreshold}): ${d.error}`,
  "obs.probe.recovered": (d) => `${d.worker} ${d.probe} probe recovered (${plural(d.successes, "success", "successes")}${d.latencyMs !== undefined ? `, ${ms(d.latencyMs)}` : ""})`,
  "obs.container.networks": (d) => `${d.worker} container networks: ${vnics(d.vnics)}${d.internal ? `, internal ${d.internal}` : ""}`,
  "obs.container.health": (d) => `${d.worker} container ${d.status}`,
  "sys.docker.unavailable": (d) => `Docker unreachable at ${d.socketPath}: ${d.error} (not running: ${list(d.workloads)})`,
  "sys.docker.available": (d) => `Docker ${d.version} reachable at ${d.socketPath} (adopted: ${list(d.adopted)})`,
  "cmd.container.reattach": (d) => `reattach ${d.worker}'s vNICs on ${d.interface}${d.subnet ? ` to ${d.subnet}` : ""}${d.delayMs ? ` in ${ms(d.delayMs)}` : ""}${by(d.requestedBy)}`,
  "out.container.reattached": (d) => `${d.worker} reattached: ${vnics(d.vnics)}${d.warnings?.length ? ` (warnings: ${d.warnings.join("; ")})` : ""}${by(d.requestedBy)}`,
  "obs.net.discovery": (d) => `${plural(d.interfaces.length, "interface")}: ${d.interfaces.map(iface).join(" · ") || "none"}`,
  "obs.net.changed": (d) => (d.before === null ? `interface ${d.interface} appeared: ${d.after ? iface(d.after) : ""}` : d.after === null ? `interface ${d.interface} gone` : `interface ${d.interface} changed: ${iface(d.before)} → ${iface(d.after)}`),
  "obs.net.online": (d) => `network online: ${d.endpoint} answered in ${ms(d.latencyMs)}`,
  "obs.net.offline": (d) => `network OFFLINE: ${d.endpoint}: ${d.error}`,
  "cmd.net.discover": (d) => `discover network interfaces${by(d.requestedBy)}`,
  "dec.remediation.decided": (d) => `decided: ${d.action} ${d.worker} (policy ${d.policy}, attempt ${d.attempt}, delay ${ms(d.delayMs)})${d.handledBy ? `, already done by ${d.handledBy}` : `: ${d.reason}`}`,
  "dec.incident.opened": (d) => `incident opened for ${d.worker}${d.policy ? ` (${d.policy})` : ""}: ${d.reason}`,
  "dec.incident.resolved": (d) => `incident of ${d.worker} resolved: ${d.reason}`,
  "dec.disk.step": (d) => `disk ${d.mount} at ${d.usedPct} %: ${d.step}${d.workers?.length ? ` (${d.workers.join(", ")})` : ""}: ${d.reason}`,
  "cmd.logs.prune": (d) => `prune rotated logs beyond the newest ${d.keepRotated}${by(d.requestedBy)}`,
  "out.logs.pruned": (d) => `pruned ${plural(d.removedFiles, "rotated log")} (${d.freedBytes} bytes freed)${d.writers[0] ? `; most output: ${d.writers[0].worker}` : ""}`,
  "cmd.telemetry.downsample": (d) => (d.factor === 1 ? `telemetry back to its configured sampling${by(d.requestedBy)}` : `telemetry downsamples ${d.factor}× more${by(d.requestedBy)}`),
  "out.telemetry.downsampled": (d) => `telemetry sampling ×${d.factor}${d.forwarding ? "" : " (not forwarding: no telemetry.url)"}`,
  "cmd.incident.ack": (d) => `acknowledge incident ${d.incident}${by(d.requestedBy)}`,
  "dec.incident.acknowledged": (d) => `incident of ${d.worker} acknowledged by ${d.by}: ${d.reason}`,
  "dec.incident.escalated": (d) => `INCIDENT ESCALATED for ${d.worker}: ${d.reason} (${plural(d.restarts, "restart")} in ${ms(d.windowMs)})`,
  "cmd.worker.restart": command("restart"),
  "cmd.worker.start": command("start"),
  "cmd.worker.stop": command("stop"),
  "cmd.worker.pause": command("pause"),
  "cmd.worker.resume": command("resume"),
  "cmd.worker.kill": command("kill"),
  "out.worker.restarted": outcome("restarted"),
  "out.worker.started": outcome("started"),
  "out.worker.stopped": outcome("stopped"),
  "out.worker.paused": outcome("paused"),
  "out.worker.resumed": outcome("resumed"),
  "out.worker.killed": outcome("killed"),
  "out.command.rejected": (d) => `command ${d.action} ${d.worker} rejected: ${d.reason}`,
  "out.command.failed": (d) => `command ${d.action} ${d.worker} failed: ${d.error}`,
  "dec.config.planned": (d) =>
    `config change ${d.change.slice(0, 8)} planned: ${plural(d.steps.length, "step")} (added ${list(d.diff.added)}; removed ${list(d.diff.removed)}; changed ${list(d.diff.changed.map((c) => `${c.worker} [${c.fields.join(", ")}]`))}; ${d.diff.unchanged.length} unchanged)${d.held.length ? `; held: ${d.held.map((h) => `${h.worker} (${h.reason})`).join(", ")}` : ""}`,
  "dec.deployment.received": (d) => `deployment ${d.version} received (signed by ${d.key.slice(0, 20)}…): workers ${list(d.workers)}, health window ${d.healthWindowSeconds} s`,
  "dec.deployment.refused": (d) => `deployment${d.version !== undefined ? ` ${d.version}` : ""} REFUSED (${d.code}): ${d.reason}`,
  "dec.deployment.applying": (d) => `${d.rollback ? "rolling back to" : "applying"} deployment ${d.version}: workers ${list(d.workers)}`,
  "out.deployment.applied": (d) => `deployment ${d.version} ${d.rollback ? `restored (rollback from ${d.from})` : "applied"}${d.failed ? `, ${plural(d.failed, "step")} FAILED` : ""}; watching ${list(d.workers)} for ${d.healthWindowSeconds} s`,
  "dec.deployment.healthy": (d) => `deployment ${d.version} healthy: ${list(d.workers)} ran ${ms(d.windowMs)}`,
  "cmd.deployment.rollback": (d) => `roll back deployment ${d.version}${d.worker ? ` (${d.worker})` : ""}: ${d.reason}${by(d.requestedBy)}`,
  "dec.deployment.rolled-back": (d) => `deployment ${d.from} ROLLED BACK to ${d.to === 0 ? "the local config" : `version ${d.to}`}: ${d.reason}`,
  "dec.remote.accepted": (d) => `remote ${d.op}${d.worker ? ` ${d.worker}` : ""} by ${d.operator}`,
  "dec.remote.refused": (d) => `remote ${d.op ?? "request"} REFUSED: ${d.reason}`,
  "dec.config.rejected": (d) => `config change ${d.change.slice(0, 8)} REJECTED, nothing changed: ${d.error}`,
  "out.config.step": (d) => `config change ${d.change.slice(0, 8)} step ${d.step}/${d.of}: ${d.action} ${d.worker} ${d.ok ? "done" : `FAILED: ${d.error}`}${d.pid ? ` (pid ${d.pid})` : ""} in ${ms(d.durationMs)}`,
  "out.config.applied": (d) => `config change ${d.change.slice(0, 8)} applied: ${plural(d.steps, "step")}${d.failed ? `, ${d.failed} failed` : ""} in ${ms(d.durationMs)}`,
  "sys.supervisor.limits": (d) => (d.enforced ? `worker limits enforced with cgroup v2 at ${d.cgroup} (${list(d.workers)})` : `worker limits NOT enforced, ${list(d.workers)} run unlimited: ${d.reason}`),
  "sys.service.started": (d) => `service ${d.service} started (pid ${d.pid}, ${d.version})`,
  "sys.service.stopped": (d) => `service ${d.service} stopped (pid ${d.pid}): ${d.reason}`,
  "sys.service.heartbeat": (d) =>
    `${d.service} alive: up ${ms(d.uptimeMs)}, ${mib(d.rssBytes)}${d.outbox ? `, ${d.outbox} in outbox` : ""}${d.workers ? `, workers ${d.workers.map((w) => `${w.name} ${w.status}`).join(", ") || "none"}` : ""}`,
  "sys.supervisor.degraded": (d) => `supervisor DEGRADED: ${d.reason} (${d.unreachable.join(" and ")} unreachable)`,
  "sys.supervisor.restored": (d) => `supervisor back under the decider after ${d.degradedMs} ms (${d.reflexRestarts} local restart(s))`,
  "sys.telemetry.breaker.opened": (d) => `telemetry breaker OPEN: ${d.reason} (${d.backlog} waiting, retry in ${ms(d.resetTimeoutMs)})`,
  "sys.telemetry.breaker.closed": (d) => `telemetry breaker closed after ${ms(d.openMs)} (${d.backlog} waiting)`,
  "sys.telemetry.upload.failed": (d) => `upload of ${plural(d.events, "event")} (#${d.firstSeq}–${d.lastSeq}) failed${d.status ? ` (HTTP ${d.status})` : ""}: ${d.error}; retry in ${ms(d.retryInMs)}`,
  "sys.telemetry.lost": (d) => `${plural(d.count, "event")} lost before upload (#${d.fromSeq}–${d.toSeq}): ${d.reason}`,
  "sys.telemetry.heartbeat": (d) => `telemetry alive: breaker ${d.breaker}, ${d.backlog} waiting, ${d.forwarded} forwarded${d.deadLettered ? `, ${d.deadLettered} dead-lettered` : ""}${d.lost ? `, ${d.lost} lost` : ""}`,
  "sys.alerts.target.failing": (d) => `alert target ${d.target} FAILING: ${d.error}${d.status ? ` (HTTP ${d.status})` : ""}; ${d.pending} alert(s) waiting, retried with backoff`,
  "sys.alerts.target.recovered": (d) => `alert target ${d.target} accepts alerts again after ${ms(d.failingMs)} (${d.failedAttempts} failed attempt(s))`,
  "sys.store.damaged": (d) => `store file ${d.file} damaged (${d.reason}): ${d.keptRecords} record(s) kept, ${d.lostCount > 0 ? `${plural(d.lostCount, "message")} lost (#${d.fromSeq}–${d.toSeq})` : "none known durable lost"}; original copied to ${d.movedTo}`,
  "sys.fleet.uplink": (d) => `fleet uplink ${d.state} (${d.hub.join(", ")}, domain ${d.domain})${d.error ? `: ${d.error}` : ""}`,
  "sys.deadletter": (d) => `dead letter from ${d.consumer}: ${d.reason} (${d.subject}${d.streamSeq !== undefined ? ` #${d.streamSeq}` : ""})`,
};

/** The parts of an event the summariser reads (any event, typed or not yet narrowed). */
export interface Summarisable {
  type: string;
  data: unknown;
}

function nameOf(e: Pick<Summarisable, "type">): EventName | undefined {
  const n = e.type.startsWith(TYPE_PREFIX) ? e.type.slice(TYPE_PREFIX.length) : e.type;
  return isEventName(n) ? n : undefined;
}

// Generic in N so that the table's entry and the data are the same N.
function summariseAs<N extends EventName>(name: N, data: DataOf<N>): string {
  const f: (d: DataOf<N>) => string = SUMMARIES[name];
  return f(data);
}

/**
 * A line a person reads for `e` (without time, sequence or incident: the caller adds what its view
 * needs). Events come validated from the bus; one whose data does not fit its type (a hand-made
 * event, a future field removed) says so instead of throwing or printing JSON.
 */
export function summarise(e: Summarisable): string {
  const name = nameOf(e);
  if (!name) return `event of unknown type ${e.type}`;
  try {
    // Validated against CATALOG[name] when decoded (decodeEvent), so its data is DataOf<name>.
    return summariseAs(name, e.data as DataOf<typeof name>);
  } catch {
    return `${name}: data that does not match its schema`;
  }
}

/** Heartbeats and health samples: many per minute, hidden by default in `vigil events`, `vigil up`'s feed and the console. */
export function isRoutine(e: Pick<Summarisable, "type">): boolean {
  const n = nameOf(e);
  return n === "sys.service.heartbeat" || n === "sys.telemetry.heartbeat" || n === "obs.health.sample";
}

export type Stage = "exit" | "opened" | "decision" | "command" | "outcome" | "stable" | "resolved" | "escalated" | "other";

/** Where an event sits in an incident's causal chain (exit → incident → decision → command → outcome → stable/resolved). */
export function stageOf(e: Pick<Summarisable, "type">): Stage {
  const n = nameOf(e);
  if (!n) return "other";
  if (n === "obs.worker.exited") return "exit";
  if (n === "obs.worker.stable") return "stable";
  if (n === "dec.incident.opened") return "opened";
  if (n === "dec.incident.resolved") return "resolved";
  if (n === "dec.incident.escalated") return "escalated";
  if (n.startsWith("dec.")) return "decision";
  if (n.startsWith("cmd.")) return "command";
  if (n.startsWith("out.")) return "outcome";
  return "other";
}
