import { dependencyOrder, type EventName, type WorkerAction } from "@vigil/events";
import type { RunStatus } from "./process-driver.js";

/**
 * The supervisor's one planner (balena-supervisor's shape, with no I/O): the workers the config
 * declares (desired), what runs now (current) and an intent in; typed steps out. A command, the
 * degraded-mode reflex restart, a container reattach and boot are intents; a config reload is a
 * new `desired` with the "converge" intent. Executors (executors.ts) carry the steps out.
 */

export type WorkloadKind = "process" | "container";

/** A worker the config declares. */
export interface WorkerSpec {
  name: string;
  kind: WorkloadKind;
  /**
   * The settings a reload compares, field → canonical text (a process: command, args, env, inheritEnv,
   * cwd, limits; a container: what it is created from, workloads.ts containerSpec): a worker whose
   * settings differ is restarted (a container: recreated). Others (restart policy, priority …) apply live.
   */
  settings?: Readonly<Record<string, string>>;
  /** Workers that must be ready before this one starts. */
  dependsOn?: readonly string[];
  /** Restarted too when a worker it depends on restarts. */
  restartWithDependency?: boolean;
}

/** What the supervisor knows about a worker's run right now. */
export interface WorkerFacts {
  name: string;
  status: RunStatus;
  pid?: number;
  /** The operator stopped it (`vigil stop`): it stays stopped until started (boot, reload, reflex). */
  stoppedByOperator?: boolean;
}

export type Intent =
  | { kind: "command"; action: WorkerAction; worker: string; delayMs?: number; signal?: NodeJS.Signals }
  /** Degraded mode's local restart, planned after its backoff: nothing to do when someone started the worker meanwhile. */
  | { kind: "reflex-restart"; worker: string }
  | { kind: "reattach"; worker: string; interface: string; subnet?: string; gateway?: string; delayMs?: number }
  /**
   * Make current match desired: start what is declared and not running, stop what runs and is no
   * longer declared; with `previous` (a reload: what was declared before), also restart the workers
   * whose settings changed. Boot is converge without `previous`.
   */
  | { kind: "converge"; only?: WorkloadKind; previous?: readonly WorkerSpec[] };

export type Step =
  | { action: "wait"; ms: number }
  | { action: "stop"; worker: string }
  | { action: "start"; worker: string }
  /** Wait until a started worker is ready (its `ready` condition), before a dependent starts. */
  | { action: "ready"; worker: string }
  /** Delete a stopped container (and its internal network): a removed or changed container workload is recreated, not restarted. */
  | { action: "remove"; worker: string }
  | { action: "pause"; worker: string }
  | { action: "resume"; worker: string }
  | { action: "kill"; worker: string; signal: NodeJS.Signals }
  | { action: "reattach"; worker: string; interface: string; subnet?: string; gateway?: string };

export type StepAction = Step["action"];
export type StepOf<A extends StepAction> = Extract<Step, { action: A }>;

/** `outcome`: the event that reports the plan done (commands report it even when no step was needed). */
export type Plan = { ok: true; steps: Step[]; outcome: EventName; held?: Held[] } | { ok: false; reason: string };

/** A worker the plan leaves stopped although it is declared, and why. */
export interface Held {
  worker: string;
  reason: string;
}

const OUTCOME = {
  restart: "out.worker.restarted",
  start: "out.worker.started",
  stop: "out.worker.stopped",
  pause: "out.worker.paused",
  resume: "out.worker.resumed",
  kill: "out.worker.killed",
} as const satisfies Record<WorkerAction, EventName>;

/** The outcome event of a worker command. */
export const outcomeOf = <A extends WorkerAction>(action: A): (typeof OUTCOME)[A] => OUTCOME[action];

const isUp = (f: WorkerFacts | undefined) => f !== undefined && (f.status === "running" || f.status === "paused");
const factsOf = (current: readonly WorkerFacts[], worker: string): WorkerFacts => current.find((f) => f.name === worker) ?? { name: worker, status: "stopped" };

export function plan(desired: readonly WorkerSpec[], current: readonly WorkerFacts[], intent: Intent): Plan {
  switch (intent.kind) {
    case "command":
      return planCommand(desired, current, factsOf(current, intent.worker), intent);
    case "reflex-restart": {
      const spec = desired.find((w) => w.name === intent.worker);
      if (!spec) return { ok: false, reason: `unknown worker "${intent.worker}": no longer declared` };
      const facts = factsOf(current, intent.worker);
      // An operator's stop outlasts crashes: the reflex never brings such a worker back.
      return { ok: true, outcome: "out.worker.restarted", steps: isUp(facts) || facts.stoppedByOperator ? [] : [{ action: "start", worker: intent.worker }] };
    }
    case "reattach":
      return planReattach(desired, intent);
    case "converge":
      return planConverge(desired, current, intent);
  }
}

/** Commands that are already satisfied plan no steps and still report their outcome. */
function planCommand(desired: readonly WorkerSpec[], current: readonly WorkerFacts[], facts: WorkerFacts, c: Extract<Intent, { kind: "command" }>): Plan {
  const worker = c.worker;
  if (!desired.some((w) => w.name === worker)) {
    return { ok: false, reason: `unknown worker "${worker}": only workers declared in the config can be commanded (declared: ${desired.map((w) => w.name).join(", ") || "none"})` };
  }
  const up = isUp(facts);
  const wait: Step[] = c.delayMs ? [{ action: "wait", ms: c.delayMs }] : [];
  const stopIfUp: Step[] = up ? [{ action: "stop", worker }] : [];
  const outcome = OUTCOME[c.action];
  switch (c.action) {
    case "restart":
      return { ok: true, outcome, steps: [...wait, ...withDependents(desired, current, worker, [...stopIfUp, { action: "start", worker }])] };
    case "start":
      return { ok: true, outcome, steps: up ? [] : [...wait, { action: "start", worker }] };
    case "stop":
      return { ok: true, outcome, steps: stopIfUp };
    case "kill":
      return up ? { ok: true, outcome, steps: [{ action: "kill", worker, signal: c.signal ?? "SIGKILL" }] } : { ok: false, reason: `${worker} is not running` };
    case "pause":
      if (!up) return { ok: false, reason: `${worker} is not running, nothing to pause` };
      return { ok: true, outcome, steps: facts.status === "paused" ? [] : [{ action: "pause", worker }] };
    case "resume":
      if (!up) return { ok: false, reason: `${worker} is not running, nothing to resume` };
      return { ok: true, outcome, steps: facts.status === "running" ? [] : [{ action: "resume", worker }] };
  }
}

function planReattach(desired: readonly WorkerSpec[], r: Extract<Intent, { kind: "reattach" }>): Plan {
  if (!desired.some((w) => w.name === r.worker && w.kind === "container")) {
    const containers = desired.filter((w) => w.kind === "container").map((w) => w.name);
    return { ok: false, reason: `unknown container workload "${r.worker}": only containers declared in the config can be reattached (declared: ${containers.join(", ") || "none"})` };
  }
  const wait: Step[] = r.delayMs ? [{ action: "wait", ms: r.delayMs }] : [];
  const step: Step = { action: "reattach", worker: r.worker, interface: r.interface, ...(r.subnet !== undefined ? { subnet: r.subnet } : {}), ...(r.gateway !== undefined ? { gateway: r.gateway } : {}) };
  return { ok: true, outcome: "out.container.reattached", steps: [...wait, step] };
}

/** What a reload changes, by name: settings compared field by field. */
export interface WorkerDiff {
  added: string[];
  removed: string[];
  changed: Array<{ worker: string; fields: string[] }>;
  unchanged: string[];
}

export function diffWorkers(previous: readonly WorkerSpec[], desired: readonly WorkerSpec[]): WorkerDiff {
  const before = new Map(previous.map((w) => [w.name, w]));
  const diff: WorkerDiff = { added: [], removed: previous.filter((w) => !desired.some((d) => d.name === w.name)).map((w) => w.name), changed: [], unchanged: [] };
  for (const w of desired) {
    const old = before.get(w.name);
    if (!old) {
      diff.added.push(w.name);
      continue;
    }
    const fields = [...new Set([...Object.keys(old.settings ?? {}), ...Object.keys(w.settings ?? {})])].filter((f) => old.settings?.[f] !== w.settings?.[f]);
    if (old.kind !== w.kind) fields.unshift("kind");
    if (fields.length) diff.changed.push({ worker: w.name, fields });
    else diff.unchanged.push(w.name);
  }
  return diff;
}

/** Declared workers in start order: every worker after the ones it depends on (declaration order otherwise). */
export function startOrder(desired: readonly WorkerSpec[]): WorkerSpec[] {
  const order = dependencyOrder(desired);
  // The config refuses cycles; a planner handed one anyway keeps declaration order rather than starting nothing.
  if (!order.ok) return [...desired];
  const byName = new Map(desired.map((w) => [w.name, w]));
  return order.order.map((n) => byName.get(n)!);
}

/** Workers that restart with `worker` (restartWithDependency, transitively) and are up now, in start order. */
function dependentsToRestart(desired: readonly WorkerSpec[], current: readonly WorkerFacts[], roots: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const w of startOrder(desired)) {
    if (roots.has(w.name) || !w.restartWithDependency || !isUp(factsOf(current, w.name))) continue;
    if ((w.dependsOn ?? []).some((d) => roots.has(d) || out.has(d))) out.add(w.name);
  }
  return [...out];
}

/** A restart of `worker` framed by its dependents' (restartWithDependency): theirs stop first and start after it is ready. */
function withDependents(desired: readonly WorkerSpec[], current: readonly WorkerFacts[], worker: string, own: Step[]): Step[] {
  const deps = dependentsToRestart(desired, current, new Set([worker]));
  if (!deps.length) return own;
  const stops: Step[] = [...deps].reverse().map((w) => ({ action: "stop", worker: w }));
  return [...stops, ...own, ...startsInOrder(desired, deps)];
}

/** Starts for `names` in start order, each preceded by a ready step for the dependencies not awaited yet. */
function startsInOrder(desired: readonly WorkerSpec[], names: readonly string[]): Step[] {
  const byName = new Map(desired.map((w) => [w.name, w]));
  const awaited = new Set<string>();
  const steps: Step[] = [];
  const wanted = new Set(names);
  for (const w of startOrder(desired)) {
    if (!wanted.has(w.name)) continue;
    for (const d of byName.get(w.name)?.dependsOn ?? []) {
      if (awaited.has(d) || !byName.has(d)) continue;
      awaited.add(d);
      steps.push({ action: "ready", worker: d });
    }
    steps.push({ action: "start", worker: w.name });
  }
  return steps;
}

/**
 * Stops first (removed workers, then the ones to restart, dependents before what they depend on), so
 * a removed worker's resources are free before a new one starts; then the removed and changed
 * containers are deleted (containersToRemove); then starts in dependency order,
 * each after its dependencies are ready. Operator-stopped workers, and workers whose dependency is
 * held, stay stopped (`held`).
 */
function planConverge(desired: readonly WorkerSpec[], current: readonly WorkerFacts[], c: Extract<Intent, { kind: "converge" }>): Plan {
  const wanted = desired.filter((w) => c.only === undefined || w.kind === c.only);
  const declared = new Set(desired.map((w) => w.name));
  const removed = current.filter((f) => isUp(f) && !declared.has(f.name)).map((f) => f.name);
  const diff = c.previous ? diffWorkers(c.previous, wanted) : undefined;
  // Only running workers restart; a changed worker that is not running simply starts with its new settings.
  const changedUp = new Set((diff?.changed ?? []).map((x) => x.worker).filter((w) => isUp(factsOf(current, w))));
  const restarts = new Set([...changedUp, ...dependentsToRestart(wanted, current, changedUp)]);
  const stopOrder = startOrder(wanted).map((w) => w.name).filter((n) => restarts.has(n)).reverse();
  const held = heldWorkers(wanted, current);
  const heldNames = new Set(held.map((h) => h.worker));
  const toStart = wanted.filter((w) => restarts.has(w.name) || (!heldNames.has(w.name) && !isUp(factsOf(current, w.name)))).map((w) => w.name);
  const stops: Step[] = [...removed, ...stopOrder].map((worker) => ({ action: "stop", worker }));
  const removes: Step[] = diff && c.previous ? containersToRemove(c.previous, wanted, diff).map((worker) => ({ action: "remove", worker })) : [];
  return { ok: true, outcome: "obs.worker.started", steps: [...stops, ...removes, ...startsInOrder(wanted, toStart)], ...(held.length ? { held } : {}) };
}

/**
 * A container keeps what it was created from (image, env, networks …): a removed container is deleted
 * after its stop, and a changed one is deleted before it starts again, so its next start creates it from
 * the new declaration (stopped ones too: the engine still holds them). Declaration order.
 */
function containersToRemove(previous: readonly WorkerSpec[], wanted: readonly WorkerSpec[], diff: WorkerDiff): string[] {
  const wasContainer = new Set(previous.filter((w) => w.kind === "container").map((w) => w.name));
  const changed = new Set(diff.changed.map((x) => x.worker));
  const removed = diff.removed.filter((n) => wasContainer.has(n));
  const recreated = wanted.filter((w) => w.kind === "container" && wasContainer.has(w.name) && changed.has(w.name)).map((w) => w.name);
  return [...removed, ...recreated];
}

/** Operator-stopped workers, and (transitively) the workers that depend on one of them and are not running. */
function heldWorkers(desired: readonly WorkerSpec[], current: readonly WorkerFacts[]): Held[] {
  const held: Held[] = [];
  const names = new Set<string>();
  for (const w of startOrder(desired)) {
    const facts = factsOf(current, w.name);
    if (facts.stoppedByOperator) {
      held.push({ worker: w.name, reason: "stopped by the operator (vigil start to run it again)" });
      names.add(w.name);
      continue;
    }
    const blocking = (w.dependsOn ?? []).find((d) => names.has(d));
    if (blocking && !isUp(facts)) {
      held.push({ worker: w.name, reason: `its dependency ${blocking} is not running` });
      names.add(w.name);
    }
  }
  return held;
}
