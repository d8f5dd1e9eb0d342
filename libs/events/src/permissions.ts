import { DECIDER_BUCKET } from "./state.js";
import { BUS_SERVICES, eventSubject, ownedSubjects, type BusService } from "./owners.js";
import { durabilitySubjects } from "./publisher.js";

/**
 * Least privilege on the bus (docs/security.md): what each service's NATS user may publish and
 * subscribe to on the server `vigil up` runs. Pure: `vigil up` turns it into the server config.
 */

export { ADMIN_USER, BUS_SERVICES, type BusService } from "./owners.js";

export interface SubjectRules {
  allow: string[];
  deny: string[];
}

export interface BusPermissions {
  publish: SubjectRules;
  subscribe: SubjectRules;
}

export interface PermissionScope {
  device: string;
  /** The event stream (config.stream.name). */
  stream: string;
  /** Telemetry's durable consumer (config.telemetry.durable). */
  telemetryDurable?: string;
  /** The alerts service's durable consumer (config.alerts.durable). */
  alertsDurable?: string;
  /**
   * The service that may create and update the event stream. None under `vigil up` (admin does it
   * first); the decider on a server Vigil does not start (compose), where no admin step runs.
   */
  streamManager?: string;
}

/** Replies (request/JetStream API answers, pull-consumer deliveries) to a service arrive here only: no one reads another's. */
export function inboxPrefixFor(service: string): string {
  return `_INBOX_${service}`;
}

/** Telemetry's second durable: its commands (cmd.telemetry.downsample, services/telemetry/src/commands.ts). */
export const TELEMETRY_COMMANDS_DURABLE = "telemetry-commands";

/** The durable consumers Vigil's services own, by service. */
export function durablesOf(scope: PermissionScope): Record<string, string> {
  return { supervisor: "supervisor", decider: "decider", netmon: "netmon", telemetry: scope.telemetryDurable ?? "telemetry", alerts: scope.alertsDurable ?? "alerts" };
}

/** Who reads the stream with ordered consumers (tailEvents: live feeds, history, health's resume). */
const TAILS: ReadonlySet<string> = new Set(["gateway", "health"]);
/**
 * Core-NATS subscriptions (live, not from the stream): the supervisor's degraded mode watches the
 * decider's lifecycle subjects only (vigil.<device>.sys.service.decider.>), which only the decider may
 * publish; and the supervisor hears restart commands as they are published (its fast path for the
 * decider's restarts, services/supervisor/src/restart-fast-path.ts; only the decider and the gateway
 * may publish them). Every command still reaches it from the stream too.
 */
const LISTENS: Partial<Record<BusService, (device: string) => string[]>> = { supervisor: (d) => [deciderLifecycle(d), restartCommands(d)] };

/** The subject of restart commands (cmd.worker.restart): what the supervisor's fast path listens to. */
export function restartCommands(device: string): string {
  return eventSubject(device, "cmd.worker.restart");
}

/** The decider's own lifecycle subjects (started, stopped, heartbeat): what degraded mode listens to. */
export function deciderLifecycle(device: string): string {
  return eventSubject(device, "sys.service.heartbeat", "decider").replace(/\.heartbeat$/, ".>");
}
/** Access to the decider's snapshot bucket. */
const KV: Partial<Record<BusService, "write" | "read" | "watch">> = { decider: "write", health: "read", gateway: "watch" };

const durableRights = (stream: string, name: string) => [
  `$JS.API.CONSUMER.INFO.${stream}.${name}`,
  `$JS.API.CONSUMER.CREATE.${stream}.${name}`,
  `$JS.API.CONSUMER.CREATE.${stream}.${name}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${name}`,
  `$JS.API.CONSUMER.DELETE.${stream}.${name}`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`,
  `$JS.ACK.${stream}.${name}.>`,
];

/** Ordered (ephemeral, randomly named) consumers: any name, so others' durables are denied explicitly. */
const orderedRights = (stream: string) => [
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.CONSUMER.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.DELETE.${stream}.>`,
  `$JS.API.CONSUMER.INFO.${stream}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
];

/** Everything that would let a user touch (read, ack, delete, recreate) another service's durable. */
const foreignDurable = (stream: string, name: string) => [
  `$JS.API.CONSUMER.*.${stream}.${name}`,
  `$JS.API.CONSUMER.*.${stream}.${name}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${name}`,
  `$JS.ACK.${stream}.${name}.>`,
];

function kvRights(access: "write" | "read" | "watch"): string[] {
  const b = DECIDER_BUCKET;
  const s = `KV_${b}`;
  // $JS.API.INFO: the KV client checks JetStream is there (account info: read-only).
  const read = [`$JS.API.INFO`, `$JS.API.STREAM.INFO.${s}`, `$JS.API.DIRECT.GET.${s}`, `$JS.API.DIRECT.GET.${s}.>`, `$JS.API.STREAM.MSG.GET.${s}`];
  if (access === "read") return read;
  if (access === "watch") return [...read, `$JS.API.CONSUMER.CREATE.${s}.>`, `$JS.API.CONSUMER.DELETE.${s}.>`, `$JS.API.CONSUMER.INFO.${s}.>`, `$JS.FC.${s}.>`];
  return [...read, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`, `$KV.${b}.>`];
}

/**
 * The publish/subscribe rules of one service's user. Publishing covers the JetStream API requests it
 * makes; subscribing is its own inbox only (events reach consumers through the inbox too).
 */
export function permissionsFor(service: string, scope: PermissionScope): BusPermissions {
  const { device, stream } = scope;
  const known = (BUS_SERVICES as readonly string[]).includes(service);
  const durables = durablesOf(scope);
  const own = durables[service];
  const allow = [
    // One exact subject per event type it owns (owners.ts), never a kind wildcard. A service added
    // later owns nothing but its own lifecycle events (sys.service.<it>.started/stopped).
    ...(known ? ownedSubjects(service, device) : [eventSubject(device, "sys.service.started", service), eventSubject(device, "sys.service.stopped", service)]),
    // ensureStream's check (every service), before the admin user has made the stream right.
    `$JS.API.STREAM.INFO.${stream}`,
    ...(scope.streamManager === service ? [`$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`] : []),
    ...(own ? durableRights(stream, own) : []),
    ...(service === "telemetry" ? durableRights(stream, TELEMETRY_COMMANDS_DURABLE) : []),
    ...(TAILS.has(service) ? orderedRights(stream) : []),
    ...(service === "gateway" ? [`$JS.API.CONSUMER.LIST.${stream}`, `$JS.API.CONSUMER.NAMES.${stream}`] : []),
    ...(known && KV[service as BusService] ? kvRights(KV[service as BusService]!) : []),
    // Asking vigil up's durability barrier for a pass (a publisher's clean stop, publisher.ts).
    durabilitySubjects(device).sync,
  ];
  const deny = Object.entries(durables)
    .filter(([owner]) => owner !== service)
    .flatMap(([, name]) => foreignDurable(stream, name));
  if (service !== "telemetry") deny.push(...foreignDurable(stream, TELEMETRY_COMMANDS_DURABLE));
  // Commands are the decider's and the gateway's alone: say so explicitly, whatever the allow list grows into.
  if (service !== "decider" && service !== "gateway") deny.push(`vigil.*.cmd.>`);
  return {
    publish: { allow: [...new Set(allow)], deny },
    // Every publisher hears the barrier's announcements: they release what is on disk from its outbox.
    subscribe: { allow: [`${inboxPrefixFor(service)}.>`, durabilitySubjects(device).announce, ...(known ? (LISTENS[service as BusService]?.(device) ?? []) : [])], deny: [] },
  };
}
