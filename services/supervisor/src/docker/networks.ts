import type Docker from "dockerode";
import type { ContainerConfig, Logger, VnicConfig } from "@vigil/events";
import { internalName, LABEL, macvlanName, overlaps, parentSubnet, vnicAttachments, vnicEndpoint, type Attachment } from "../networks.js";
import { statusCodeOf } from "./types.js";

/** A vNIC's endpoint on its MACVLAN network: the network (created when missing) and the fixed IP/MAC, if any. */
export interface VnicEndpoint {
  network: string;
  ip?: string;
  mac?: string;
}

/**
 * The engine-side networks of this device's containers: each workload's internal bridge and the
 * MACVLAN networks (one per parent interface and subnet) its vNICs join.
 */
export class DockerNetworks {
  constructor(
    private readonly docker: Docker,
    private readonly opts: { device: string; log: Logger },
  ) {}

  /** The workload's internal (no outside route) bridge, created when missing. */
  async ensureInternal(workload: string): Promise<string> {
    const name = internalName(workload);
    const found = await this.docker.listNetworks({ filters: { name: [name] } });
    if (found.some((n) => n.Name === name)) return name;
    await this.docker
      .createNetwork({ Name: name, Driver: "bridge", Internal: true, Labels: { [LABEL.device]: this.opts.device, [LABEL.workload]: workload } })
      .catch((err) => {
        if (statusCodeOf(err) !== 409) throw err; // created meanwhile
      });
    return name;
  }

  async removeInternal(workload: string): Promise<void> {
    await this.docker.getNetwork(internalName(workload)).remove().catch(() => undefined);
  }

  /**
   * The MACVLAN network for a parent interface and subnet: the one by that name, else a new one; when
   * Docker refuses it for a pool overlap, an existing MACVLAN network on the same parent that covers it.
   */
  async macvlanNetwork(parent: string, subnet: string, gateway?: string): Promise<string> {
    const name = macvlanName(parent, subnet);
    const nets = await this.docker.listNetworks({ filters: { driver: ["macvlan"] } });
    if (nets.some((n) => n.Name === name)) return name;
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: "macvlan",
        Options: { parent },
        IPAM: { Driver: "default", Config: [{ Subnet: subnet, ...(gateway ? { Gateway: gateway } : {}) }] },
        Labels: { [LABEL.device]: this.opts.device, [LABEL.parent]: parent },
      });
      return name;
    } catch (err) {
      const msg = (err as Error).message;
      if (!/overlap/i.test(msg)) throw err;
      const reuse = nets.find((n) => n.Options?.parent === parent && (n.IPAM?.Config ?? []).some((p) => p.Subnet && overlaps(p.Subnet, subnet)));
      if (!reuse) throw new Error(`MACVLAN network for ${parent} ${subnet}: ${msg}`);
      this.opts.log.info({ parent, subnet, network: reuse.Name }, "pool overlap: reusing the existing MACVLAN network");
      return reuse.Name;
    }
  }

  /** Where the vNIC goes (its network made ready); throws when its manual address does not fit the subnet. */
  async endpoint(v: VnicConfig, override?: { subnet?: string; gateway?: string }): Promise<VnicEndpoint> {
    const ep = vnicEndpoint(v, parentSubnet(v, override));
    if (ep.error) throw new Error(ep.error);
    const network = await this.macvlanNetwork(v.parentInterface, ep.subnet, ep.gateway);
    return { network, ...(ep.ip ? { ip: ep.ip } : {}), ...(ep.mac ? { mac: ep.mac } : {}) };
  }

  /** Connects a created container to a vNIC's MACVLAN network with its configured address and MAC. */
  async attach(containerId: string, v: VnicConfig, override?: { subnet?: string; gateway?: string }): Promise<string> {
    const ep = await this.endpoint(v, override);
    await this.docker.getNetwork(ep.network).connect({
      Container: containerId,
      EndpointConfig: { ...(ep.ip ? { IPAMConfig: { IPv4Address: ep.ip } } : {}), ...(ep.mac ? { MacAddress: ep.mac } : {}) },
    });
    return ep.network;
  }

  /** What the container is attached to now, per configured vNIC (from the engine). */
  async attachments(containerId: string, c: ContainerConfig): Promise<{ internal?: string; vnics: Attachment[] }> {
    const inspect = await this.docker.getContainer(containerId).inspect();
    const attached = inspect.NetworkSettings.Networks;
    const macvlans = await this.docker.listNetworks({ filters: { driver: ["macvlan"] } });
    const vnics = vnicAttachments(c.vnics, attached, macvlans);
    const internal = c.internalNetwork && attached[internalName(c.name)] ? internalName(c.name) : undefined;
    return { ...(internal ? { internal } : {}), vnics };
  }

  /**
   * After the parent interface moved to another subnet: the container leaves its MACVLAN networks on
   * that parent and its vNICs there join the ones for the new subnet. An old network is removed when
   * nothing else uses it (so the new pool does not overlap it).
   */
  async moveToSubnet(containerId: string, iface: string, onIface: VnicConfig[], parent: { subnet?: string; gateway?: string }): Promise<void> {
    const inspect = await this.docker.getContainer(containerId).inspect();
    const macvlans = await this.docker.listNetworks({ filters: { driver: ["macvlan"] } });
    for (const net of macvlans.filter((n) => n.Options?.parent === iface && inspect.NetworkSettings.Networks[n.Name])) {
      await this.docker.getNetwork(net.Name).disconnect({ Container: containerId, Force: true });
      const left = await this.docker.getNetwork(net.Name).inspect().catch(() => undefined);
      if (left && Object.keys(left.Containers ?? {}).length === 0) await this.docker.getNetwork(net.Name).remove().catch(() => undefined);
    }
    for (const v of onIface) await this.attach(containerId, v, parent);
  }
}
