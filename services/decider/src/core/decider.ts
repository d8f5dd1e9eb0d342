import { DEFAULT_POLICIES_CONFIG, derivedId, makeEvent, parseSubject, RestartPolicySchema, type RestartPolicy, type VigilConfig, type VigilEvent } from "@vigil/events";
import { crashRestart } from "../policies/crash-restart/decide.js";
import { overheat } from "../policies/overheat/decide.js";
import { cpuFailsafe } from "../policies/cpu-failsafe/decide.js";
import { anomalyRemediation } from "../policies/anomaly/decide.js";
import { probeFailure } from "../policies/probe-failure/decide.js";
import { memoryPressure } from "../policies/memory-pressure/decide.js";
import { networkReattach } from "../policies/network-reattach/decide.js";
import { deploymentGate } from "../policies/deployment/decide.js";
import { diskPressure } from "../policies/disk-pressure/decide.js";
import { incidentAck } from "../policies/incident-ack/decide.js";
import { evolve } from "./fold.js";
import type { Policy, PolicyContext } from "./policy.js";
import { initialState, type DeciderState } from "@vigil/events";

export interface Decider {
  initialState: DeciderState;
  /** The decisions (decision, incident and command events) an input event leads to. Pure. */
  decide(state: DeciderState, event: VigilEvent): VigilEvent[];
  evolve(state: DeciderState, event: VigilEvent): DeciderState;
  /** decide, then fold the input and the decisions: what the service and a replay both run. */
  step(state: DeciderState, event: VigilEvent): { state: DeciderState; decisions: VigilEvent[] };
  /** Whether an event is input for the decider (observations, outcomes, lifecycle) rather than its own output. */
  isInput(event: Pick<VigilEvent, "subject">): boolean;
}

/** Every policy, in the order they decide (their drafts are published in this order). */
export const DEFAULT_POLICIES: Policy[] = [crashRestart, overheat, cpuFailsafe, anomalyRemediation, probeFailure, memoryPressure, networkReattach, deploymentGate, diskPressure, incidentAck];

export function createDecider(config: Pick<VigilConfig, "device" | "workers"> & Partial<Pick<VigilConfig, "policies" | "containers">>, policies: Policy[] = DEFAULT_POLICIES): Decider {
  const defaults = RestartPolicySchema.parse({});
  // Containers are restarted by the same crash-restart policy, with their own restart settings.
  const byWorker = new Map<string, RestartPolicy>([...config.workers, ...(config.containers ?? [])].map((w) => [w.name, w.restart]));
  const declared = new Map(config.workers.map((w) => [w.name, w]));
  const ctx: PolicyContext = {
    restartPolicy: (name) => byWorker.get(name) ?? defaults,
    worker: (name) => declared.get(name),
    workers: config.workers,
    policies: config.policies ?? DEFAULT_POLICIES_CONFIG,
    containers: config.containers ?? [],
  };
  const fold = (s: DeciderState, e: VigilEvent) => evolve(s, e, ctx);
  const source = `vigil/${config.device}/decider`;

  function decide(state: DeciderState, e: VigilEvent): VigilEvent[] {
    const out: VigilEvent[] = [];
    for (const p of policies) {
      p.decide(state, e, ctx).forEach((d, i) => {
        // Same input, same policy → same ids: a re-decision is dropped by JetStream and the supervisor.
        const id = derivedId(e.id, p.name, String(i), d.name);
        out.push(makeEvent(config.device, source, d.name, d.data, { id, time: e.time, incident: d.incident, causation: e.id, correlation: d.incident }));
      });
    }
    return out;
  }

  return {
    initialState,
    decide,
    evolve: fold,
    step(state, e) {
      const decisions = decide(state, e);
      return { state: decisions.reduce(fold, fold(state, e)), decisions };
    },
    isInput(e) {
      const k = parseSubject(e.subject)?.kind;
      // An operator's ack is the one command the decider itself answers (its other commands are its own output).
      return k === "obs" || k === "out" || (k === "sys" && !e.subject.endsWith(".sys.deadletter")) || e.subject.endsWith(".cmd.incident.ack");
    },
  };
}

/** Runs events through the decider from its initial state: what a full replay from sequence 1 does. */
export function replay(decider: Decider, events: Iterable<VigilEvent>, from: DeciderState = decider.initialState): { state: DeciderState; decisions: VigilEvent[] } {
  let state = from;
  const decisions: VigilEvent[] = [];
  for (const e of events) {
    if (!decider.isInput(e)) continue;
    const r = decider.step(state, e);
    state = r.state;
    decisions.push(...r.decisions);
  }
  return { state, decisions };
}
