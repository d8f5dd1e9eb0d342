import type { EventName, WorkerAction } from "@vigil/events";
import type { RunStatus } from "./process-driver.js";

/**
 * The supervisor's one planner (balena-supervisor's shape, with no I/O): the workers the config
 * declares (desired), what runs now (current) and an intent in; typed steps out. A command, the
 * degraded-mode reflex restart, a container reattach and boot are intents; a config reload is a
 * new `desired` with the "converge" intent. Executors (executors.ts) carry the steps out.
 */

export type WorkloadKind = "process" | "container";

/** A worker the config declares. A reload compares these (issue 15 adds the settings to diff). */
export interface WorkerSpec {
  name: string;
  kind: WorkloadKind;
}

/** What the supervisor knows about a worker's run right now. */
export interface WorkerFacts {
  name: string;
  status: RunStatus;
  pid?: number;
}

export type Intent =
  | { kind: "command"; action: WorkerAction; worker: string; delayMs?: number; signal?: NodeJS.Signals }
  /** Degraded mode's local restart, planned after its backoff: nothing to do when someone started the worker meanwhile. */
  | { kind: "reflex-restart"; worker: string }
  | { kind: "reattach"; worker: string; interface: string; subnet?: string; gateway?: string; delayMs?: number }
  /** Make current match desired: start what is declared and not running, stop what runs and is no longer declared (boot; reload). */
  | { kind: "converge"; only?: WorkloadKind };

export type Step =
  | { action: "wait"; ms: number }
  | { action: "stop"; worker: string }
  | { action: "start"; worker: string }
  | { action: "pause"; worker: string }
  | { action: "resume"; worker: string }
  | { action: "kill"; worker: string; signal: NodeJS.Signals }
  | { action: "reattach"; worker: string; interface: string; subnet?: string; gateway?: string };

export type StepAction = Step["action"];
export type StepOf<A extends StepAction> = Extract<Step, { action: A }>;

/** `outcome`: the event that reports the plan done (commands report it even when no step was needed). */
export type Plan = { ok: true; steps: Step[]; outcome: EventName } | { ok: false; reason: string };

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
      return planCommand(desired, factsOf(current, intent.worker), intent);
    case "reflex-restart": {
      const spec = desired.find((w) => w.name === intent.worker);
      if (!spec) return { ok: false, reason: `unknown worker "${intent.worker}": no longer declared` };
      return { ok: true, outcome: "out.worker.restarted", steps: isUp(factsOf(current, intent.worker)) ? [] : [{ action: "start", worker: intent.worker }] };
    }
    case "reattach":
      return planReattach(desired, intent);
    case "converge":
      return planConverge(desired, current, intent.only);
  }
}

/** Commands that are already satisfied plan no steps and still report their outcome. */
function planCommand(desired: readonly WorkerSpec[], facts: WorkerFacts, c: Extract<Intent, { kind: "command" }>): Plan {
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
      return { ok: true, outcome, steps: [...wait, ...stopIfUp, { action: "start", worker }] };
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

/** In declaration order; stops first, so a removed worker's resources are free before a new one starts. */
function planConverge(desired: readonly WorkerSpec[], current: readonly WorkerFacts[], only?: WorkloadKind): Plan {
  const wanted = desired.filter((w) => only === undefined || w.kind === only);
  const declared = new Set(desired.map((w) => w.name));
  const stops: Step[] = current.filter((f) => isUp(f) && !declared.has(f.name)).map((f) => ({ action: "stop", worker: f.name }));
  const starts: Step[] = wanted.filter((w) => !isUp(current.find((f) => f.name === w.name))).map((w) => ({ action: "start", worker: w.name }));
  return { ok: true, outcome: "obs.worker.started", steps: [...stops, ...starts] };
}
