import type { DeciderState, DeploymentWatch } from "@vigil/events";

export const DEPLOYMENT = "deployment";

/** The deployment slice: `state.deployment`, the deployment whose health window is open (or just decided). */
export const deploymentOf = (s: DeciderState): DeploymentWatch | undefined => s.deployment;
export const inWindow = (w: DeploymentWatch | undefined, at: number): boolean => !!w && !w.done && at - w.since < w.windowMs;
