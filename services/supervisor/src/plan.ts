import type { EventName, WorkerAction } from "@vigil/events";
import type { RunStatus } from "./process-driver.js";

/** What the supervisor knows about a worker when a command arrives. */
export interface WorkerFacts {
  declared: boolean;
  status: RunStatus;
  pid?: number;
}

export type Step =
  | { action: "wait"; ms: number }
  | { action: "stop" }
  | { action: "start" }
  | { action: "pause" }
  | { action: "resume" }
  | { action: "kill"; signal: NodeJS.Signals };

export type Plan =
  | { ok: true; steps: Step[]; outcome: EventName }
  | { ok: false; reason: string };

const OUTCOME: Record<WorkerAction, EventName> = {
  restart: "out.worker.restarted",
  start: "out.worker.started",
  stop: "out.worker.stopped",
  pause: "out.worker.paused",
  resume: "out.worker.resumed",
  kill: "out.worker.killed",
};

/**
 * Pure: turns a command and the facts about its worker into steps (balena-supervisor style, with no
 * I/O in the planner). Commands that are already satisfied plan no steps and still report their outcome.
 */
export function planCommand(action: WorkerAction, worker: string, facts: WorkerFacts, opts: { delayMs?: number; signal?: NodeJS.Signals; declared?: string[] } = {}): Plan {
  if (!facts.declared) {
    return { ok: false, reason: `unknown worker "${worker}": only workers declared in the config can be commanded (declared: ${(opts.declared ?? []).join(", ") || "none"})` };
  }
  const up = facts.status === "running" || facts.status === "paused";
  const wait: Step[] = opts.delayMs ? [{ action: "wait", ms: opts.delayMs }] : [];
  const outcome = OUTCOME[action];
  switch (action) {
    case "restart":
      return { ok: true, outcome, steps: [...wait, ...(up ? [{ action: "stop" } as Step] : []), { action: "start" }] };
    case "start":
      return { ok: true, outcome, steps: up ? [] : [...wait, { action: "start" }] };
    case "stop":
      return { ok: true, outcome, steps: up ? [{ action: "stop" }] : [] };
    case "kill":
      return up ? { ok: true, outcome, steps: [{ action: "kill", signal: opts.signal ?? "SIGKILL" }] } : { ok: false, reason: `${worker} is not running` };
    case "pause":
      if (!up) return { ok: false, reason: `${worker} is not running, nothing to pause` };
      return { ok: true, outcome, steps: facts.status === "paused" ? [] : [{ action: "pause" }] };
    case "resume":
      if (!up) return { ok: false, reason: `${worker} is not running, nothing to resume` };
      return { ok: true, outcome, steps: facts.status === "running" ? [] : [{ action: "resume" }] };
  }
}
