import { LOCAL_TOKEN_NAME, hashToken, tailEvents, type EventWithSeq, type GatewayToken, type Logger, type NatsConnection, type Publisher, type VigilConfig, type VigilEvent } from "@vigil/events";
import type { WebSocket } from "ws";
import type { Principal } from "./auth.js";
import type { Hub } from "./hub.js";
import { serialise } from "./hub.js";
import type { CommandAction, ErrorCode, StartPoint } from "./protocol.js";
import { subjectMatches } from "./protocol.js";
import { createRateLimiter } from "./rate-limit.js";
import { readEvents } from "./reader.js";
import { incidentList, inIncident, workerRows, type HealthPoint, type WorkerRow } from "./views.js";
import type { IncidentView } from "@vigil/events";

export interface StateView {
  device: string;
  /** The stream sequence the decider's state covers (0: no state yet). */
  seq: number;
  workers: WorkerRow[];
  incidents: IncidentView[];
  health: HealthPoint[];
  telemetryBreaker?: string;
  supervisorReportAt?: string;
  clients: number;
}

export type CommandResult =
  | { ok: true; command: { id: string; seq?: number; action: CommandAction; worker: string; requestedBy: string } }
  | { ok: false; code: ErrorCode; message: string; retryAfterMs?: number };

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
  incidentEvents(id: string): Promise<EventWithSeq[]>;
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
  const refuse = (reason: string) => hub.counters.commandsRefused.set(reason, (hub.counters.commandsRefused.get(reason) ?? 0) + 1);

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
        workers: workerRows(declared, snap?.state, sup),
        incidents: incidentList(snap?.state),
        health: hub.health(),
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
    async incidentEvents(id) {
      const known = hub.snapshot()?.state.incidents[id];
      // The exit that opened it carries the same time as the opening: start a little before.
      const from = known ? { time: new Date(Date.parse(known.openedAt) - 60_000) } : ("all" as const);
      const r = await readEvents(nc, { stream: config.stream.name, filter: `vigil.${config.device}.>`, from, where: (e: VigilEvent) => inIncident(e, id), limit: 10_000 });
      return r.events;
    },
    async tail(filters, from, onEvent) {
      const one = filters.length === 1 ? filters[0]! : "vigil.>";
      const start = from === "all" ? "all" : "seq" in from ? from : { time: new Date(from.time) };
      const t = await tailEvents(nc, { stream: config.stream.name, filter: one, from: start }, (e) => {
        if (filters.length === 1 || filters.some((f) => subjectMatches(f, e.subject))) onEvent(e, serialise(e));
      });
      return () => t.stop();
    },
  };
}
