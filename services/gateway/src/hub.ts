import { jetstreamManager } from "@nats-io/jetstream";
import { eventName, tailEvents, watchDeciderView, type DeciderSnapshot, type DeciderState, type EventWithSeq, type Logger, type NatsConnection, type Tail, type VigilConfig } from "@vigil/events";
import { createIncidentIndex, type IncidentSpan } from "./incident-index.js";
import { countEvent, newCounters, noteLatest, type ConsumerLag, type Counters } from "./metrics.js";
import { subjectMatches } from "./protocol.js";
import { consoleEvent, healthPoint, type HealthPoint, type SupervisorReport } from "./views.js";

/** How far back the health charts reach. */
export const HEALTH_WINDOW_MS = 15 * 60_000;
const HEALTH_POINTS_KEPT = 3_000;

/** A live subscription fed by the hub: it gets each matching event once, already serialised. */
export interface LiveListener {
  filters: string[];
  deliver(seq: number, json: string): void;
}

export interface Hub {
  counters: Counters;
  /** The decider's latest snapshot (from its KV bucket, watched). */
  snapshot(): DeciderSnapshot | undefined;
  supervisor(): SupervisorReport | undefined;
  health(): HealthPoint[];
  /** The last stream sequence the hub has seen. */
  lastSeq(): number;
  /** Where an incident's events are in the stream, if the hub has seen any (since HEALTH_WINDOW_MS before it started). */
  incidentSpan(id: string): IncidentSpan | undefined;
  /** Resolves true once the hub has seen every event stored when it was called (false after `timeoutMs`): then its index is current. */
  caughtUp(timeoutMs: number): Promise<boolean>;
  addLive(l: LiveListener): () => void;
  onState(f: (s: DeciderSnapshot) => void): () => void;
  /** Resolves with the outcome (`out.*`) of a command id, or undefined after `timeoutMs`. */
  waitForOutcome(commandId: string, timeoutMs: number): Promise<EventWithSeq | undefined>;
  consumerLag(): Promise<ConsumerLag[]>;
  streamInfo(): Promise<{ messages: number; bytes: number; lastSeq: number } | undefined>;
  stop(): Promise<void>;
}

/** The event as the console sends it: the CloudEvent plus its stream sequence, summary and stage (views.ts consoleEvent). */
export function serialise(e: EventWithSeq): string {
  return JSON.stringify(consoleEvent(e));
}

/**
 * The gateway's single view of the bus: one ordered consumer over `vigil.>` feeds the metrics, the
 * health charts, command outcomes and every live WebSocket subscription (each event is decoded and
 * serialised once, however many clients watch), and a KV watch keeps the decider's state current.
 */
export async function startHub(nc: NatsConnection, config: VigilConfig, log: Logger): Promise<Hub> {
  const counters = newCounters();
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const streamName = config.stream.name;
  const listeners = new Set<LiveListener>();
  const stateListeners = new Set<(s: DeciderSnapshot) => void>();
  const waiters = new Map<string, (e: EventWithSeq) => void>();
  // Outcomes that arrived before anyone waited for them (the supervisor can be that fast).
  const recentOutcomes = new Map<string, EventWithSeq>();
  let health: HealthPoint[] = [];
  let supervisor: SupervisorReport | undefined;
  let snapshot: DeciderSnapshot | undefined;
  let seen = 0;
  const incidents = createIncidentIndex();
  const catchUps = new Set<{ seq: number; done: (ok: boolean) => void }>();

  // Events already stored when the hub starts fill the charts and caches but are not "live".
  const startSeq = (await jsm.streams.info(streamName)).state.last_seq;
  const since = new Date(Date.now() - HEALTH_WINDOW_MS);

  const onEvent = (e: EventWithSeq) => {
    seen = e.seq;
    incidents.add(e);
    for (const c of catchUps) if (seen >= c.seq) c.done(true);
    const name = eventName(e);
    if (name === "sys.service.heartbeat" && Array.isArray((e.data as any)?.workers) && (e.data as any).service === "supervisor") {
      supervisor = { at: e.time, workers: (e.data as any).workers };
    }
    const hp = healthPoint(e);
    if (hp && e.device === config.device) {
      health.push(hp);
      if (health.length > HEALTH_POINTS_KEPT || (health[0] && health[0].t < Date.parse(e.time) - HEALTH_WINDOW_MS)) {
        const cut = Date.parse(e.time) - HEALTH_WINDOW_MS;
        health = health.filter((p) => p.t >= cut).slice(-HEALTH_POINTS_KEPT);
      }
    }
    if (e.seq <= startSeq) return noteLatest(counters, e, config.device);
    countEvent(counters, e, config.device);
    if (name?.startsWith("out.")) {
      const cmd = (e.data as { command?: string }).command;
      if (cmd) {
        recentOutcomes.set(cmd, e);
        if (recentOutcomes.size > 256) recentOutcomes.delete(recentOutcomes.keys().next().value!);
        waiters.get(cmd)?.(e);
      }
    }
    let json: string | undefined;
    for (const l of listeners) {
      if (l.filters.some((f) => subjectMatches(f, e.subject))) l.deliver(e.seq, (json ??= serialise(e)));
    }
  };
  const tail: Tail = await tailEvents(nc, { stream: streamName, filter: "vigil.>", from: startSeq === 0 ? "all" : { time: since }, onInvalid: () => void counters.invalid++ }, onEvent);

  // The decider's state: its view (KV snapshot), watched through the one reader in libs/events.
  let stopped = false;
  const view = await watchDeciderView(
    nc,
    config.device,
    (s) => {
      snapshot = s;
      for (const f of stateListeners) f(s);
    },
    (reason) => !stopped && log.warn({ reason }, "unreadable decider snapshot"),
  );

  return {
    counters,
    snapshot: () => snapshot,
    supervisor: () => supervisor,
    health: () => health,
    lastSeq: () => seen,
    incidentSpan: (id) => incidents.get(id),
    async caughtUp(timeoutMs) {
      const target = (await jsm.streams.info(streamName)).state.last_seq;
      if (seen >= target) return true;
      return new Promise<boolean>((resolve) => {
        const c = {
          seq: target,
          done: (ok: boolean) => {
            clearTimeout(t);
            catchUps.delete(c);
            resolve(ok);
          },
        };
        const t = setTimeout(() => c.done(false), timeoutMs);
        catchUps.add(c);
      });
    },
    addLive(l) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    onState(f) {
      stateListeners.add(f);
      return () => void stateListeners.delete(f);
    },
    waitForOutcome(commandId, timeoutMs) {
      const known = recentOutcomes.get(commandId);
      if (known) return Promise.resolve(known);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiters.delete(commandId);
          resolve(undefined);
        }, timeoutMs);
        waiters.set(commandId, (e) => {
          clearTimeout(t);
          waiters.delete(commandId);
          resolve(e);
        });
      });
    },
    async consumerLag() {
      const out: ConsumerLag[] = [];
      const list = await jsm.consumers.list(streamName).next();
      for (const c of list) {
        if (!c.config.durable_name) continue; // ordered/ephemeral readers (like this gateway's) are not lag
        out.push({ name: c.config.durable_name, pending: c.num_pending, ackPending: c.num_ack_pending, redelivered: c.num_redelivered });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
    async streamInfo() {
      try {
        const s = (await jsm.streams.info(streamName)).state;
        return { messages: s.messages, bytes: s.bytes, lastSeq: s.last_seq };
      } catch {
        return undefined;
      }
    },
    async stop() {
      stopped = true;
      await view.stop();
      await tail.stop();
    },
  };
}

export type { DeciderState };
