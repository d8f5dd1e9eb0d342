import { eventName, parseSubject, type DeciderState, type AnyVigilEvent } from "@vigil/events";

/** Counters the gateway keeps from the live feed (since it started). */
export interface Counters {
  events: Map<string, number>;
  invalid: number;
  breaker?: string;
  breakerAt?: string;
  commandsSent: Map<string, number>;
  commandsRefused: Map<string, number>;
}

export function newCounters(): Counters {
  return { events: new Map(), invalid: 0, commandsSent: new Map(), commandsRefused: new Map() };
}

const BREAKER_STATES = ["closed", "open", "halfOpen", "idle"] as const;

/** Folds one event into the counters. */
export function countEvent(c: Counters, e: AnyVigilEvent): void {
  const kind = parseSubject(e.subject)?.kind ?? "unknown";
  const name = eventName(e) ?? e.type;
  const key = `${kind}\u0000${name}`;
  c.events.set(key, (c.events.get(key) ?? 0) + 1);
  const d = e.data as Record<string, unknown>;
  if (name === "sys.telemetry.heartbeat" && typeof d?.breaker === "string") {
    c.breaker = d.breaker;
    c.breakerAt = e.time;
  } else if (name === "sys.telemetry.breaker.opened") {
    c.breaker = "open";
    c.breakerAt = e.time;
  } else if (name === "sys.telemetry.breaker.closed") {
    c.breaker = "closed";
    c.breakerAt = e.time;
  }
}

export interface ConsumerLag {
  name: string;
  /** Messages in the stream the consumer has not been delivered yet. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  redelivered: number;
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
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** Prometheus text exposition format (version 0.0.4). Pure. */
export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const metric = (name: string, type: "counter" | "gauge", help: string, rows: Array<[Record<string, string>, number]>) => {
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
  metric("vigil_incidents_open", "gauge", "Open incidents.", [[{}, incidents.filter((i) => i.status === "open").length]]);
  metric("vigil_incidents_escalated", "gauge", "Escalated incidents among those the decider keeps.", [[{}, incidents.filter((i) => i.status === "escalated").length]]);
  if (m.counters.breaker !== undefined) {
    metric("vigil_telemetry_breaker_state", "gauge", "The telemetry circuit breaker: 1 for its current state.", BREAKER_STATES.map((s) => [{ state: s }, m.counters.breaker === s ? 1 : 0]));
  }
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
