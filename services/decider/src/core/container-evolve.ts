import { is, withEntry, type DeciderState, type VigilEvent } from "@vigil/events";

/**
 * Keeps each container's vNICs as the supervisor last reported them (obs.container.networks), so the
 * network-reattach policy knows who sits on an interface even for vNICs the config no longer lists.
 */
export function evolveContainers(s: DeciderState, e: VigilEvent): DeciderState {
  if (!is(e, "obs.container.networks")) return s;
  const vnics = e.data.vnics.map(({ vnic, parentInterface, network, subnet, ip, mac }) => ({ vnic, parentInterface, network, subnet, ...(ip ? { ip } : {}), ...(mac ? { mac } : {}) }));
  return { ...s, containers: withEntry(s.containers, e.data.worker, { vnics }) };
}
