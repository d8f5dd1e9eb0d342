import { derivedId, is, ownEntry, type DataOf, type DeciderState, type VigilEvent } from "@vigil/events";
import { draft, type Draft, type Policy, type PolicyContext } from "../../core/policy.js";
import { NETWORK_REATTACH } from "./state.js";

type Iface = DataOf<"obs.net.changed">["after"];

const subnets = (i: Iface) => (i?.ipv4 ?? []).map((a) => a.subnet).sort().join(",");

/** Containers with a vNIC on `iface`: from the config and from what the supervisor reported. */
export function containersOn(state: DeciderState, ctx: PolicyContext, iface: string): string[] {
  const names = new Set<string>();
  for (const c of ctx.containers ?? []) if (c.vnics.some((v) => v.parentInterface === iface)) names.add(c.name);
  for (const [name, c] of Object.entries(state.containers ?? {})) if (c.vnics.some((v) => v.parentInterface === iface)) names.add(name);
  return [...names].sort();
}

/**
 * A parent interface that moved to another subnet (netmon's net.changed, already debounced) → each
 * container with a vNIC on it is reattached to the MACVLAN network of the new subnet, in one
 * incident per container that the supervisor's outcome resolves. An interface that lost its IPv4
 * address is left alone: there is no subnet to move to yet (the next change brings one).
 */
export const networkReattach: Policy = {
  name: NETWORK_REATTACH,
  decide(state, e, ctx): Draft[] {
    if (is(e, "obs.net.changed")) {
      const { interface: iface, before, after } = e.data;
      if (!after?.ipv4.length) return [];
      if (before && subnets(before) === subnets(after) && before.gateway === after.gateway) return [];
      const subnet = after.ipv4[0]!.subnet;
      const out: Draft[] = [];
      for (const worker of containersOn(state, ctx, iface)) {
        const incident = derivedId(e.id, NETWORK_REATTACH, worker, "incident");
        const reason = `${iface} moved from ${subnets(before) || "no address"} to ${subnets(after)}: reattaching ${worker}'s vNICs`;
        out.push(draft("dec.incident.opened", { worker, reason, policy: NETWORK_REATTACH }, incident));
        out.push(draft("cmd.container.reattach", { worker, interface: iface, subnet, ...(after.gateway ? { gateway: after.gateway } : {}), reason, requestedBy: "decider" }, incident));
      }
      return out;
    }
    if (is(e, "out.container.reattached") && e.incident && ownEntry(state.incidents, e.incident)?.status === "open") {
      const where = e.data.vnics.map((v) => `${v.vnic} ${v.ip ?? "dhcp"} on ${v.network}`).join(", ");
      return [draft("dec.incident.resolved", { worker: e.data.worker, reason: `${e.data.worker} reattached: ${where}` }, e.incident)];
    }
    return [];
  },
};
