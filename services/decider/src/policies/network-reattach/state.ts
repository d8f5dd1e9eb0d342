import type { DeciderState } from "@vigil/events";

export const NETWORK_REATTACH = "network-reattach";

/**
 * The network-reattach slice: `state.containers`, each container's vNICs as the supervisor last
 * reported them (obs.container.networks), so the policy knows who sits on an interface even for
 * vNICs the config no longer lists. Absent (initial) until the first report.
 */
export type ContainersState = NonNullable<DeciderState["containers"]>;
export const initialContainers: ContainersState | undefined = undefined;
