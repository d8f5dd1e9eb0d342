import type { EventName } from "./catalog.js";
import { subjectFor } from "./subjects.js";

/**
 * Who may publish each event type (docs/decisions/0008-rights-per-event-type.md). The bus users'
 * publish rights are generated from this map (permissions.ts), and every durable consumer checks an
 * event's `source` against it (consumer.ts): a type nobody owns cannot be published by any service.
 */

/** The services that get their own NATS user; `admin` is `vigil up` itself and the CLI (all rights). */
export const BUS_SERVICES = ["supervisor", "decider", "health", "telemetry", "netmon", "gateway", "alerts"] as const;
export type BusService = (typeof BUS_SERVICES)[number];
export const ADMIN_USER = "admin";
/** An owner: a service's user, or admin for what only `vigil up`, the CLI and load tools publish. */
export type EventOwner = BusService | typeof ADMIN_USER;

const EVERY_SERVICE: readonly BusService[] = BUS_SERVICES;
/** The services that run a durable consumer (startConsumer) or a forwarder: they dead-letter. */
const DEAD_LETTERERS: readonly BusService[] = ["supervisor", "decider", "netmon", "telemetry", "alerts"];

/**
 * Every catalog key must have an entry (a mapped type over EventName, not a Partial): a new event type
 * without an owner fails the typecheck instead of silently widening anyone's rights.
 */
export const EVENT_OWNERS: { readonly [N in EventName]: readonly EventOwner[] } = {
  "obs.worker.started": ["supervisor"],
  "obs.worker.exited": ["supervisor"],
  "obs.worker.stable": ["supervisor"],
  // The chaos load and demos publish it as admin (bench/src/chaos.ts, source vigil/<device>/chaos-load).
  "obs.demo.reading": [ADMIN_USER],
  "obs.health.sample": ["health"],
  "obs.health.threshold.crossed": ["health"],
  "obs.health.threshold.recovered": ["health"],
  "obs.health.anomaly": ["health"],
  "obs.health.problem": ["health"],
  "obs.probe.failed": ["health"],
  "obs.probe.recovered": ["health"],
  "obs.container.networks": ["supervisor"],
  "obs.container.health": ["supervisor"],
  "sys.docker.unavailable": ["supervisor"],
  "sys.docker.available": ["supervisor"],
  "cmd.container.reattach": ["decider"],
  // The unattended-device policies (unattended-events.ts): the decider's disk steps and their executors; an operator's ack.
  "dec.disk.step": ["decider"],
  "cmd.logs.prune": ["decider", "gateway"],
  "out.logs.pruned": ["supervisor"],
  "cmd.telemetry.downsample": ["decider", "gateway"],
  "out.telemetry.downsampled": ["telemetry"],
  "cmd.incident.ack": ["gateway"],
  "dec.incident.acknowledged": ["decider"],
  "out.container.reattached": ["supervisor"],
  "obs.net.discovery": ["netmon"],
  "obs.net.changed": ["netmon"],
  "obs.net.online": ["netmon"],
  "obs.net.offline": ["netmon"],
  // Nobody automatic asks for a discovery: an operator does, as admin.
  "cmd.net.discover": [ADMIN_USER],

  "dec.remediation.decided": ["decider"],
  "dec.incident.opened": ["decider"],
  "dec.incident.resolved": ["decider"],
  "dec.incident.escalated": ["decider"],

  // The decider's remediations; the gateway sends what operators may ask for (COMMAND_ACTIONS).
  "cmd.worker.restart": ["decider", "gateway"],
  "cmd.worker.start": ["decider", "gateway"],
  "cmd.worker.stop": ["decider", "gateway"],
  "cmd.worker.pause": ["decider", "gateway"],
  "cmd.worker.resume": ["decider", "gateway"],
  "cmd.worker.kill": ["decider", "gateway"],

  "out.worker.restarted": ["supervisor"],
  "out.worker.started": ["supervisor"],
  "out.worker.stopped": ["supervisor"],
  "out.worker.paused": ["supervisor"],
  "out.worker.resumed": ["supervisor"],
  "out.worker.killed": ["supervisor"],
  "out.command.rejected": ["supervisor"],
  "out.command.failed": ["supervisor"],

  // Config reloads: the supervisor re-reads its own local config file and plans (docs/reload.md).
  "dec.config.planned": ["supervisor"],
  "dec.config.rejected": ["supervisor"],
  "out.config.step": ["supervisor"],
  "out.config.applied": ["supervisor"],
  "sys.supervisor.limits": ["supervisor"],

  // Per-service subjects (SERVICE_SCOPED): each owner publishes only on its own.
  "sys.service.started": EVERY_SERVICE,
  "sys.service.stopped": EVERY_SERVICE,
  "sys.service.heartbeat": ["supervisor", "decider"],
  "sys.supervisor.degraded": ["supervisor"],
  "sys.supervisor.restored": ["supervisor"],
  "sys.telemetry.breaker.opened": ["telemetry"],
  "sys.telemetry.breaker.closed": ["telemetry"],
  "sys.telemetry.upload.failed": ["telemetry"],
  "sys.telemetry.lost": ["telemetry"],
  "sys.telemetry.heartbeat": ["telemetry"],
  "sys.alerts.target.failing": ["alerts"],
  "sys.alerts.target.recovered": ["alerts"],
  // vigil up's fleet uplink watcher (source vigil/<device>/up).
  "sys.fleet.uplink": [ADMIN_USER],
  // vigil up's store check at start (store-damage.ts, source vigil/<device>/up).
  "sys.store.damaged": [ADMIN_USER],
  "sys.deadletter": DEAD_LETTERERS,
  // Deployments from the cloud (docs/fleet.md): the deployer runs in vigil up; the health gate is the decider's.
  "dec.deployment.received": [ADMIN_USER],
  "dec.deployment.refused": [ADMIN_USER],
  "dec.deployment.applying": [ADMIN_USER],
  "out.deployment.applied": [ADMIN_USER],
  "dec.deployment.healthy": ["decider"],
  "cmd.deployment.rollback": ["decider"],
  "dec.deployment.rolled-back": [ADMIN_USER],
  "dec.remote.accepted": [ADMIN_USER],
  "dec.remote.refused": [ADMIN_USER],
};

/**
 * Lifecycle events on a subject of their own per service, `vigil.<device>.sys.service.<service>.<what>`:
 * the type stays `sys.service.<what>` and `data.service` names the subject's service token, so a
 * service's user can be allowed its own heartbeat and no one else's.
 */
export const SERVICE_SCOPED: ReadonlySet<EventName> = new Set<EventName>(["sys.service.started", "sys.service.stopped", "sys.service.heartbeat"]);

/** The subject an event of `name` goes on; `service` is data.service (used by SERVICE_SCOPED types only). */
export function eventSubject(device: string, name: EventName, service?: string): string {
  if (SERVICE_SCOPED.has(name)) {
    if (!service) throw new Error(`${name} needs data.service: its subject names the service`);
    return subjectFor(device, "sys", `service.${service}.${name.slice("sys.service.".length)}`);
  }
  return subjectFor(device, name.slice(0, name.indexOf(".")) as "obs", name.slice(name.indexOf(".") + 1));
}

/** The subjects one owner may publish events on, one exact subject per event type it owns. */
export function ownedSubjects(owner: string, device: string): string[] {
  return (Object.keys(EVENT_OWNERS) as EventName[])
    .filter((n) => (EVENT_OWNERS[n] as readonly string[]).includes(owner))
    .map((n) => eventSubject(device, n, owner));
}

export const isBusService = (s: string): s is BusService => (BUS_SERVICES as readonly string[]).includes(s);

/**
 * Why an event's `source` (`vigil/<device>/<name>`, createPublisher) may not have published it, or
 * undefined when it may. A source naming one of Vigil's services must be an owner of the type (and, on
 * a per-service subject, the service it names); any other name is an admin-side tool (vigil up, the
 * CLI, the chaos load, benches): it can only have published with admin's rights, which cover everything.
 */
export function sourceMismatch(e: { source: string; device: string; data: unknown }, name: EventName): string | undefined {
  const parts = e.source.split("/");
  const named = parts.length === 3 && parts[0] === "vigil" ? parts[2]! : undefined;
  if (named === undefined || !isBusService(named)) return undefined;
  const owners = EVENT_OWNERS[name] as readonly string[];
  if (parts[1] !== e.device) return `source ${e.source} is service ${named} of another device than ${e.device}`;
  if (!owners.includes(named)) return `source ${e.source} (service ${named}) may not publish ${name}: only ${owners.join(", ")} may`;
  const service = (e.data as { service?: unknown } | null)?.service;
  if (SERVICE_SCOPED.has(name) && service !== named) return `source ${e.source} (service ${named}) may not publish ${name} of service ${String(service)}: only ${String(service)} may`;
  return undefined;
}
