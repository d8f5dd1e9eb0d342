export { createDecider, replay, DEFAULT_POLICIES, type Decider } from "./decider.js";
export { evolve } from "./evolve.js";
export { backoffDelay } from "./backoff.js";
export { crashRestart } from "./crash-restart.js";
export type { Policy, PolicyContext, Draft } from "./policy.js";
