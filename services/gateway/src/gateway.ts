import { DEFAULT_HYSTERESIS, HEALTH_METRICS, LOCAL_TOKEN_NAME, hashToken, isOpenIncident, resolveThreshold, type HealthMetric, type Threshold, type EventWithSeq, type GatewayToken, type Logger, type NatsConnection, type Publisher, type VigilConfig, type VigilEvent } from "@vigil/events";
import type { WebSocket } from "ws";
import type { Principal } from "./auth.js";
import type { Hub } from "./hub.js";
import { serialise } from "./hub.js";
import type { CommandAction, ErrorCode, StartPoint } from "./protocol.js";
import { subjectMatches } from "./protocol.js";
import { createRateLimiter } from "./rate-limit.js";
import { createReadBudget, type Refusal, type Slot } from "./read-budget.js";
import { readLogFor, type LogQuery, type LogRead } from "./logs.js";
import { openTail, readEvents, type ReadOptions, type ReadResult } from "./reader.js";
import { incidentList, inIncident, ownEntry, workerRows, type HealthPoint, type WorkerRow } from "./views.js";
import type { IncidentView } from "@vigil/events";

export interface StateView {
  device: string;
  /** The stream sequence the decider's state covers (0: no state yet). */
  seq: number;
  workers: WorkerRow[];
  incidents: IncidentView[];
  health: HealthPoint[];
  /** The configured health thresholds (health.thresholds, resolved): the console draws them on its charts. */
  thresholds: Record<HealthMetric, Threshold>;
  telemetryBreaker?: string;
  supervisorReportAt?: string;
  clients: number;
}

/** The most events one `/api/events` page or one incident timeline returns. */
export const PAGE_MAX_EVENTS = 10_000;
/** How far before an incident's opening its timeline starts (the exit that opened it has the same time), and how far past its closing it ends. */
const INCIDENT_MARGIN_MS = 60_000;
/** How long an unknown incident id waits for the hub to catch up with the stream before it is answered 404. */
const INDEX_CATCH_UP_MS = 2_000;

export type IncidentRead = { ok: true; incident: IncidentView | { id: string }; events: EventWithSeq[] } | { ok: false; code: ErrorCode; message: string; retryAfterMs?: number };
export type PageRead = { ok: true; page: ReadResult } | Refusal;

export type CommandResult =
  | { ok: true; command: { id: string; seq?: number; action: CommandAction; worker: string; requestedBy: string } }
  | { ok: false; code: ErrorCode; message: string; retryAfterMs?: number };

export type AckResult = { ok: true; command: { id: string; seq?: number; incident: string; requestedBy: string } } | { ok: false; code: ErrorCode; message: string; retryAfterMs?: number };

/** What HTTP handlers and WebSocket sessions share: the bus view, the tokens, and the actions. */
export interface Gateway {
  nc: NatsConnection;
  config: VigilConfig;
  tokens: GatewayToken[];
  hub: Hub;
  clients: Set<WebSocket>;
  dropped: { n: number };
  subscriptions: { n: number };
  stateView(): StateView;
  sendCommand(p: Principal, action: CommandAction, worker: string, reason?: string): Promise<CommandResult>;
  /** `vigil ack <incident>`: operators only, an open (or escalated) incident only; the decider closes it. */
  ackIncident(p: Principal, id: string, reason?: string): Promise<AckResult>;
  /** An incident the decider knows (own properties only: ids like `__proto__` are not found). */
  incident(id: string): IncidentView | undefined;
  /**
   * An incident's events in stream order, read from where it starts (the decider's state or the hub's
   * index says): an id neither knows is not_found without touching the stream. Counts against the token's read budget.
   */
  incidentEvents(p: Principal, id: string): Promise<IncidentRead>;
  /** One page of stored events (at most PAGE_MAX_EVENTS), against the token's read budget. */
  readPage(p: Principal, q: Pick<ReadOptions, "filter" | "from" | "untilSeq" | "limit">): Promise<PageRead>;
  /** A replay slot for the token, taken at once (synchronously); released when the replay ends. */
  reserveReplay(p: Principal): Slot | Refusal;
  /** The last lines of a declared worker's or a Vigil service's log (logs.ts), against the token's read budget. */
  readLogs(p: Principal, name: string, q: LogQuery): Promise<LogRead>;
  /** An ordered consumer from a start point, matching the filters; returns how to stop it. */
  tail(filters: string[], from: Exclude<StartPoint, "new">, onEvent: (e: EventWithSeq, json: string) => void): Promise<() => Promise<void>>;
}

/** The tokens in effect: the configured ones, or the local operator token when there are none. */
export function effectiveTokens(config: VigilConfig, localToken: string | undefined): GatewayToken[] {
  if (config.gateway.tokens.length > 0) return config.gateway.tokens;
  return localToken ? [{ name: LOCAL_TOKEN_NAME, role: "operator", sha256: hashToken(localToken) }] : [];
}

export function createGateway(deps: { nc: NatsConnection; config: VigilConfig; hub: Hub; publisher: Publisher; log: Logger; tokens: GatewayToken[] }): Gateway {
  const { nc, config, hub, publisher, log } = deps;
  const limiter = createRateLimiter({ perMinute: config.gateway.commandsPerMinute, burst: config.gateway.commandBurst });
  const clients = new Set<WebSocket>();
  const budget = createReadBudget(config.gateway);
  const refuse = (reason: string) => hub.counters.commandsRefused.set(reason, (hub.counters.commandsRefused.get(reason) ?? 0) + 1);

  const thresholds = Object.fromEntries(HEALTH_METRICS.map((m) => [m, resolveThreshold(config.health.thresholds[m], DEFAULT_HYSTERESIS[m])])) as Record<HealthMetric, Threshold>;
  // Process workers and containers share one namespace and the same commands.
  const declared = [...config.workers, ...config.containers];
  return {
    nc,
    config,
    tokens: deps.tokens,
    hub,
    clients,
    dropped: { n: 0 },
    subscriptions: { n: 0 },
    stateView() {
      const snap = hub.snapshot();
      const sup = hub.supervisor();
      const v: StateView = {
        device: config.device,
        seq: snap?.seq ?? 0,
        workers: workerRows(declared, snap?.state, sup, hub.counters.sample),
        incidents: incidentList(snap?.state),
        health: hub.health(),
        thresholds,
        clients: clients.size,
      };
      if (hub.counters.breaker) v.telemetryBreaker = hub.counters.breaker;
      if (sup) v.supervisorReportAt = sup.at;
      return v;
    },
    async sendCommand(p, action, worker, reason) {
      if (p.role !== "operator") {
        refuse("forbidden");
        return { ok: false, code: "forbidden", message: `${p.name} is a ${p.role}: only operators send commands` };
      }
      if (!declared.some((w) => w.name === worker)) {
        refuse("undeclared");
        return { ok: false, code: "not_found", message: `worker "${worker}" is not declared in the configuration (declared: ${declared.map((w) => w.name).join(", ") || "none"})` };
      }
      const r = limiter.take(p.name);
      if (!r.ok) {
        refuse("rate_limited");
        return { ok: false, code: "rate_limited", message: `too many commands from ${p.name}: try again in ${r.retryAfterMs} ms`, retryAfterMs: r.retryAfterMs };
      }
      const name = `cmd.worker.${action}` as const;
      const published = await publisher.emit(name, { worker, delayMs: 0, reason: reason ?? `${action} requested by ${p.name}`, requestedBy: p.name });
      hub.counters.commandsSent.set(action, (hub.counters.commandsSent.get(action) ?? 0) + 1);
      log.info({ command: published.event.id, action, worker, requestedBy: p.name }, "command sent");
      const command: { id: string; seq?: number; action: CommandAction; worker: string; requestedBy: string } = { id: published.event.id, action, worker, requestedBy: p.name };
      if (published.seq !== undefined) command.seq = published.seq;
      return { ok: true, command };
    },
    async ackIncident(p, id, reason) {
      if (p.role !== "operator") {
        refuse("forbidden");
        return { ok: false, code: "forbidden", message: `${p.name} is a ${p.role}: only operators acknowledge incidents` };
      }
      const inc = ownEntry(hub.snapshot()?.state.incidents, id);
      if (!inc) return { ok: false, code: "not_found", message: `no incident ${id} in the decider's state` };
      if (!isOpenIncident(inc)) return { ok: false, code: "bad_request", message: `incident ${id} is already closed (${inc.status}${inc.acknowledgedBy ? `, acknowledged by ${inc.acknowledgedBy}` : ""})` };
      const r = limiter.take(p.name);
      if (!r.ok) {
        refuse("rate_limited");
        return { ok: false, code: "rate_limited", message: `too many commands from ${p.name}: try again in ${r.retryAfterMs} ms`, retryAfterMs: r.retryAfterMs };
      }
      const published = await publisher.emit("cmd.incident.ack", { incident: id, requestedBy: p.name, ...(reason ? { reason } : {}) }, { incident: id });
      log.info({ command: published.event.id, incident: id, requestedBy: p.name }, "incident acknowledged");
      return { ok: true, command: { id: published.event.id, incident: id, requestedBy: p.name, ...(published.seq !== undefined ? { seq: published.seq } : {}) } };
    },
    incident(id) {
      return ownEntry(hub.snapshot()?.state.incidents, id);
    },
    async incidentEvents(p, id) {
      const known = ownEntry(hub.snapshot()?.state.incidents, id);
      let span = hub.incidentSpan(id);
      const opened = known ? Date.parse(known.openedAt) : NaN;
      if (!span && Number.isNaN(opened)) {
        // Events stored a moment ago may not have reached the hub's index yet: wait until it has seen
        // what the stream holds now (a stream info request, no consumer), then look again.
        if (await hub.caughtUp(INDEX_CATCH_UP_MS)) span = hub.incidentSpan(id);
        if (!span) return { ok: false, code: "not_found", message: `no incident ${id}` };
      }
      // Check and take in one step (no await between): concurrent reads of one token cannot all pass.
      const slot = budget.reserveRead(p.name);
      if (!slot.ok) return slot;
      try {
        const closed = known?.closedAt ? Date.parse(known.closedAt) : NaN;
        const o: ReadOptions = {
          stream: config.stream.name,
          filter: `vigil.${config.device}.>`,
          // The decider's opening time reaches back further than the hub (which saw only recent events).
          from: !Number.isNaN(opened) ? { time: new Date(opened - INCIDENT_MARGIN_MS) } : { seq: span!.first },
          where: (e: VigilEvent) => inIncident(e, id),
          limit: PAGE_MAX_EVENTS,
        };
        if (span) o.untilSeq = span.last;
        if (!Number.isNaN(closed)) o.endAt = (e) => Date.parse(e.time) > closed + INCIDENT_MARGIN_MS;
        const r = await readEvents(nc, o);
        budget.spend(p.name, r.scanned);
        return { ok: true, incident: known ?? { id }, events: r.events };
      } finally {
        slot.release();
      }
    },
    async readPage(p, q) {
      const slot = budget.reserveRead(p.name);
      if (!slot.ok) return slot;
      try {
        const r = await readEvents(nc, { stream: config.stream.name, ...q, limit: Math.min(q.limit, PAGE_MAX_EVENTS) });
        budget.spend(p.name, r.scanned);
        return { ok: true, page: r };
      } finally {
        slot.release();
      }
    },
    reserveReplay(p) {
      return budget.reserveReplay(p.name);
    },
    readLogs: (p, name, q) => readLogFor(config, budget, p.name, name, q),
    async tail(filters, from, onEvent) {
      const one = filters.length === 1 ? filters[0]! : "vigil.>";
      const start = from === "all" ? "all" : "seq" in from ? from : { time: new Date(from.time) };
      const t = await openTail(nc, { stream: config.stream.name, filter: one, from: start }, (e) => {
        if (filters.length === 1 || filters.some((f) => subjectMatches(f, e.subject))) onEvent(e, serialise(e));
      });
      return () => t.stop();
    },
  };
}
