import { DEFAULT_POLICIES_CONFIG, dispatch, type DeciderState, type VigilEvent } from "@vigil/events";
import type { EvolveContext, SliceEvolve } from "./policy.js";
import { evolveIncidents } from "./incidents.js";
import { evolveSamples } from "./samples.js";
import { evolveWorkers } from "../policies/crash-restart/evolve.js";
import { evolveOverheat } from "../policies/overheat/evolve.js";
import { evolveMemory } from "../policies/memory-pressure/evolve.js";
import { evolveEscalation } from "../policies/escalation/evolve.js";
import { evolveContainers } from "../policies/network-reattach/evolve.js";
import { evolveDeployment } from "../policies/deployment/evolve.js";
import { evolveDisk } from "../policies/disk-pressure/evolve.js";

/**
 * The slices in the order they fold an event: each sees what the ones before it made of the same
 * event. Workers before incidents (an escalation reads the incident's policy before it is closed
 * and possibly pruned); escalation after incidents (it settles the incident as closed). A slice
 * reacts only to the event names in its handler map.
 */
const SLICES: readonly SliceEvolve[] = [evolveWorkers, evolveIncidents, evolveSamples, evolveOverheat, evolveMemory, evolveEscalation, evolveContainers, evolveDeployment, evolveDisk];

const DEFAULT_EVOLVE_CONTEXT: EvolveContext = { policies: DEFAULT_POLICIES_CONFIG };

/** Folds one event (an observation, an outcome, or one of the decider's own decisions) into the state. */
export function evolve(s: DeciderState, e: VigilEvent, ctx: EvolveContext = DEFAULT_EVOLVE_CONTEXT): DeciderState {
  return SLICES.reduce((state, slice) => dispatch(slice, e, state, ctx) ?? state, s);
}
