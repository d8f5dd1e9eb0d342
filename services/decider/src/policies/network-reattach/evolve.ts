import { withEntry } from "@vigil/events";
import type { SliceEvolve } from "../../core/policy.js";

export const evolveContainers: SliceEvolve = {
  "obs.container.networks": (e, s) => {
    const vnics = e.data.vnics.map(({ vnic, parentInterface, network, subnet, ip, mac }) => ({ vnic, parentInterface, network, subnet, ...(ip ? { ip } : {}), ...(mac ? { mac } : {}) }));
    return { ...s, containers: withEntry(s.containers, e.data.worker, { vnics }) };
  },
};
