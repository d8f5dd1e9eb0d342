import { ownEntry, withEntry, type RestartPolicy, type RestartVerdict } from "@vigil/events";
import { afterRestart, afterStable, degradedState, FRESH_HISTORY, reflexOnExit, type Degraded, type RestartHistory, type Unreachable } from "./reflex.js";

/**
 * Degraded mode as a pure state machine (docs/degraded-mode.md): who is in charge of crashed workers
 * right now, the supervisor's own count of each worker's restarts, and which crashes the decider has
 * not answered yet. No clock, no I/O: every input carries its time (`at`, epoch ms), and `decide`
 * says what the shell must do (announce a change, restart a worker locally, refuse a late restart).
 */

/** An unexpected exit reported to the decider, not answered yet (no restart since). */
export interface Unanswered {
  exitId: string;
  at: number;
  incident?: string;
  previousPid?: number;
}

export interface DegradedModeState {
  /** Since when the bus connection has been down; undefined while connected. */
  busDownSince?: number;
  /** When the decider last showed itself (a lifecycle event; at boot, the boot: it gets afterMs). */
  deciderSeenAt: number;
  /** Set while degraded. */
  degraded?: Degraded;
  /** Local restarts since degraded mode began (reported when it ends). */
  reflexRestarts: number;
  /** Each worker's restarts as the decider counts them: the reflex backs off and breaks on it. */
  histories: Readonly<Record<string, RestartHistory>>;
  unanswered: Readonly<Record<string, Unanswered>>;
  /** Crash time (epoch ms) up to which the reflex answered a worker's crashes late: a decider restart for one of them is refused. */
  answeredLocally: Readonly<Record<string, number>>;
}

export interface DegradedModeConfig {
  enabled: boolean;
  afterMs: number;
  /** The worker's restart policy (from the config): the reflex's backoff and breaker. */
  policyOf(worker: string): RestartPolicy;
}

export type DegradedModeInput =
  | { type: "tick"; at: number }
  | { type: "bus-down"; at: number }
  | { type: "bus-up"; at: number }
  | { type: "decider-seen"; at: number }
  /** An exit the shell is about to report; `stopping`: the supervisor is shutting down. */
  | { type: "exit"; at: number; worker: string; exitId: string; expected: boolean; stopping: boolean; incident?: string; previousPid?: number }
  | { type: "stable"; worker: string }
  /** The decider (or an operator) took the worker in hand: a restart, start or stop command was accepted. */
  | { type: "command-accepted"; worker: string }
  /** A restart or start finished; `at` is the time of the crash it answers (the command's time). */
  | { type: "restarted"; worker: string; at: number; requestedBy: string }
  | { type: "reflex-restarted"; worker: string }
  /** A decider restart for a crash at `crashAt` arrived. */
  | { type: "decider-restart"; worker: string; crashAt: number };

export type DegradedModeDecision =
  | { type: "enter"; unreachable: Unreachable[]; reason: string; since: number }
  | { type: "leave"; degradedMs: number; reflexRestarts: number }
  /** Restart the worker locally after delayMs. `late`: for a crash reported to the decider before degraded mode began; `verdict` is the one for the exit being reported (the exit carries it). */
  | { type: "reflex-restart"; worker: string; delayMs: number; attempt: number; late: boolean; exitId: string; incident?: string; previousPid?: number; verdict?: RestartVerdict }
  | { type: "crash-loop"; worker: string; restarts: number; windowMs: number; late: boolean; verdict?: RestartVerdict }
  | { type: "refuse-late-restart"; worker: string };

/** At boot: connected, the decider gets afterMs from now to show itself. */
export function initial(at: number): DegradedModeState {
  return { deciderSeenAt: at, reflexRestarts: 0, histories: {}, unanswered: {}, answeredLocally: {} };
}

export const historyOf = (s: DegradedModeState, worker: string): RestartHistory => ownEntry(s.histories, worker) ?? FRESH_HISTORY;
export const isDegraded = (s: DegradedModeState): boolean => s.degraded !== undefined;

/** The input's facts folded in (liveness, answers, counts), before any mode change it causes. */
function observe(s: DegradedModeState, i: DegradedModeInput): DegradedModeState {
  switch (i.type) {
    case "bus-down":
      return { ...s, busDownSince: s.busDownSince ?? i.at };
    case "bus-up":
      // Control goes back with the bus; the decider gets afterMs to show itself before a new outage.
      return { ...s, busDownSince: undefined, deciderSeenAt: Math.max(s.deciderSeenAt, i.at) };
    case "decider-seen":
      return { ...s, deciderSeenAt: i.at };
    case "stable":
      return { ...s, histories: withEntry(s.histories, i.worker, afterStable(historyOf(s, i.worker))) };
    case "command-accepted":
      return { ...s, unanswered: without(s.unanswered, i.worker) };
    case "restarted":
      return { ...s, histories: withEntry(s.histories, i.worker, afterRestart(historyOf(s, i.worker), i.at, i.requestedBy)) };
    case "reflex-restarted":
      return { ...s, reflexRestarts: s.reflexRestarts + 1 };
    default:
      return s;
  }
}

/** The inputs after which the mode is looked at again (an outage is noticed on the next tick, not on the disconnect). */
function evaluatesMode(i: DegradedModeInput): i is Extract<DegradedModeInput, { type: "tick" | "bus-up" | "decider-seen" | "exit" }> {
  return i.type === "tick" || i.type === "bus-up" || i.type === "decider-seen" || (i.type === "exit" && !i.expected && !i.stopping);
}

/** The state after the input and what to do about it, in order: one pass, so the two never disagree. */
export function transition(s: DegradedModeState, i: DegradedModeInput, cfg: DegradedModeConfig): { state: DegradedModeState; decisions: DegradedModeDecision[] } {
  if (i.type === "decider-restart") {
    const refused = i.crashAt <= (ownEntry(s.answeredLocally, i.worker) ?? -Infinity);
    return { state: s, decisions: refused ? [{ type: "refuse-late-restart", worker: i.worker }] : [] };
  }
  let state = observe(s, i);
  const decisions: DegradedModeDecision[] = [];
  if (cfg.enabled && evaluatesMode(i)) {
    const next = degradedState({ now: i.at, afterMs: cfg.afterMs, busDownSince: state.busDownSince, deciderSeenAt: state.deciderSeenAt });
    if (next && !state.degraded) {
      decisions.push({ type: "enter", unreachable: next.unreachable, reason: next.reason, since: next.since });
      state = { ...state, reflexRestarts: 0 };
    } else if (!next && state.degraded) {
      decisions.push({ type: "leave", degradedMs: i.at - state.degraded.since, reflexRestarts: state.reflexRestarts });
    }
    state = { ...state, degraded: next };
    if (next) state = answerUnanswered(state, i.at, cfg, decisions);
  }
  if (i.type === "exit" && !i.expected) state = onUnexpectedExit(state, i, cfg, decisions);
  return { state, decisions };
}

/** Degraded mode began after these exits were reported to the decider: its answer is not coming, the reflex gives it. */
function answerUnanswered(s: DegradedModeState, at: number, cfg: DegradedModeConfig, out: DegradedModeDecision[]): DegradedModeState {
  let { histories, answeredLocally } = s;
  for (const [worker, u] of Object.entries(s.unanswered)) {
    const r = reflexOnExit(ownEntry(histories, worker) ?? FRESH_HISTORY, u.at, cfg.policyOf(worker));
    histories = withEntry(histories, worker, r.next);
    if (r.verdict.action === "escalate") {
      out.push({ type: "crash-loop", worker, restarts: r.verdict.restarts, windowMs: r.verdict.windowMs, late: true });
      // restart.coolDownMs: the slow retry after the crash loop, counted from the crash.
      if (r.verdict.retryInMs) out.push({ type: "reflex-restart", worker, delayMs: Math.max(0, r.verdict.retryInMs - (at - u.at)), attempt: ownEntry(histories, worker)?.attempt ?? 0, late: true, ...origin(u) });
      continue;
    }
    answeredLocally = withEntry(answeredLocally, worker, u.at);
    // The backoff counts from the crash, not from now.
    out.push({ type: "reflex-restart", worker, delayMs: Math.max(0, r.verdict.delayMs - (at - u.at)), attempt: r.verdict.attempt, late: true, ...origin(u) });
  }
  return { ...s, histories, answeredLocally, unanswered: {} };
}

/** Degraded (and not shutting down): the reflex decides now, and the exit carries its verdict. Otherwise the decider's answer is due. */
function onUnexpectedExit(s: DegradedModeState, i: Extract<DegradedModeInput, { type: "exit" }>, cfg: DegradedModeConfig, out: DegradedModeDecision[]): DegradedModeState {
  if (!s.degraded || i.stopping || !cfg.enabled) {
    return { ...s, unanswered: withEntry(s.unanswered, i.worker, origin(i, i.at)) };
  }
  const r = reflexOnExit(historyOf(s, i.worker), i.at, cfg.policyOf(i.worker));
  const verdict = r.verdict;
  out.push(
    verdict.action === "escalate"
      ? { type: "crash-loop", worker: i.worker, restarts: verdict.restarts, windowMs: verdict.windowMs, late: false, verdict }
      : { type: "reflex-restart", worker: i.worker, delayMs: verdict.delayMs, attempt: verdict.attempt, late: false, verdict, ...origin(i) },
  );
  // restart.coolDownMs: the crash loop's slow retry (the exit reports the escalation, its verdict).
  if (verdict.action === "escalate" && verdict.retryInMs) out.push({ type: "reflex-restart", worker: i.worker, delayMs: verdict.retryInMs, attempt: r.next.attempt, late: false, ...origin(i) });
  return { ...s, histories: withEntry(s.histories, i.worker, r.next) };
}

function origin(o: { exitId: string; incident?: string; previousPid?: number }): Omit<Unanswered, "at">;
function origin(o: { exitId: string; incident?: string; previousPid?: number }, at: number): Unanswered;
function origin(o: { exitId: string; incident?: string; previousPid?: number }, at?: number): Omit<Unanswered, "at"> & { at?: number } {
  return { exitId: o.exitId, ...(o.incident !== undefined ? { incident: o.incident } : {}), ...(o.previousPid !== undefined ? { previousPid: o.previousPid } : {}), ...(at !== undefined ? { at } : {}) };
}

/** What to do about the input (the decisions of `transition`). */
export function decide(s: DegradedModeState, i: DegradedModeInput, cfg: DegradedModeConfig): DegradedModeDecision[] {
  return transition(s, i, cfg).decisions;
}

/** The state after the input (the state of `transition`). */
export function evolve(s: DegradedModeState, i: DegradedModeInput, cfg: DegradedModeConfig): DegradedModeState {
  return transition(s, i, cfg).state;
}

function without<T>(r: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const copy = { ...r };
  delete copy[key];
  return copy;
}
