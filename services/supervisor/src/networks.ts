import { networkInterfaces } from "node:os";
import { memoryBytes, type ContainerConfig, type VnicConfig } from "@vigil/events";

/** Pure network arithmetic and naming for the docker driver (no I/O except `hostSubnet`). */

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

/** "198.51.100.7", 25 → "198.51.100.0/25". */
export function subnetOf(ip: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return `${intToIp(ipToInt(ip) & mask)}/${prefix}`;
}

function range(cidr: string): [number, number] {
  const [ip, p] = cidr.split("/");
  const prefix = Number(p);
  const start = ipToInt(subnetOf(ip!, prefix).split("/")[0]!);
  return [start, start + 2 ** (32 - prefix) - 1];
}

export function overlaps(a: string, b: string): boolean {
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

export function contains(cidr: string, ip: string): boolean {
  const [s, e] = range(cidr);
  const n = ipToInt(ip);
  return n >= s && n <= e;
}

/** The seed's naming: one MACVLAN network per parent interface and subnet, `macvlan_<if>_<net>_<prefix>`. */
export function macvlanName(parent: string, subnet: string): string {
  return `macvlan_${parent}_${subnet.replace("/", "_")}`;
}

export function internalName(workload: string): string {
  return `${workload}_internal`;
}

export function containerName(device: string, workload: string): string {
  return `vigil-${device}-${workload}`;
}

export const LABEL = {
  device: "io.vigil.device",
  workload: "io.vigil.workload",
  spec: "io.vigil.spec",
  parent: "io.vigil.parent",
} as const;

/** A short stable hash of what a container was created from: a changed config recreates it. */
export function specHash(c: ContainerConfig): string {
  const s = JSON.stringify([c.image, c.command ?? null, c.env, c.labels, c.cpus ?? null, c.memory ?? null, c.internalNetwork, c.vnics]);
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}

/** The Docker HostConfig limits for a container (restart policy always off: Vigil decides). */
export function hostLimits(c: ContainerConfig): { Memory?: number; MemorySwap?: number; NanoCpus?: number; RestartPolicy: { Name: string } } {
  const mem = c.memory !== undefined ? memoryBytes(c.memory) : undefined;
  return {
    RestartPolicy: { Name: "no" },
    ...(mem ? { Memory: mem, MemorySwap: mem } : {}),
    ...(c.cpus ? { NanoCpus: Math.round(c.cpus * 1e9) } : {}),
  };
}

/** The parent's subnet and gateway as this host sees it (undefined when the interface has no IPv4). */
export function hostSubnet(iface: string): { subnet: string; gateway?: string } | undefined {
  const addr = networkInterfaces()[iface]?.find((a) => a.family === "IPv4");
  if (!addr?.cidr) return undefined;
  const [ip, p] = addr.cidr.split("/");
  return { subnet: subnetOf(ip!, Number(p)) };
}

/** Where a vNIC goes: the subnet its MACVLAN network must have, and the endpoint settings. */
export function vnicEndpoint(v: VnicConfig, parent: { subnet: string; gateway?: string }): { subnet: string; gateway?: string; ip?: string; mac?: string; error?: string } {
  const subnet = parent.subnet;
  if (v.mode === "manual" && v.ip && !contains(subnet, v.ip)) {
    return { subnet, error: `vNIC ${v.name}: manual address ${v.ip} is not in ${v.parentInterface}'s subnet ${subnet}` };
  }
  return { subnet, ...(parent.gateway ? { gateway: parent.gateway } : {}), ...(v.mode === "manual" && v.ip ? { ip: v.ip } : {}), ...(v.mac ? { mac: v.mac.toLowerCase() } : {}) };
}

/**
 * The subnet (and gateway) a vNIC's MACVLAN network must have. A reattach names the parent's new subnet
 * (its gateway then replaces the configured one); otherwise the configured parentSubnet, else what the
 * host sees on the interface.
 */
export function parentSubnet(v: VnicConfig, override?: { subnet?: string; gateway?: string }): { subnet: string; gateway?: string } {
  const subnet = override?.subnet ?? v.parentSubnet ?? hostSubnet(v.parentInterface)?.subnet;
  if (!subnet) throw new Error(`vNIC ${v.name}: no IPv4 subnet known for parent interface ${v.parentInterface} (set parentSubnet, or bring the interface up)`);
  const gateway = override?.subnet ? override.gateway : (v.parentGateway ?? override?.gateway);
  return { subnet, ...(gateway ? { gateway } : {}) };
}

/** A vNIC as attached: what `obs.container.networks` and `out.container.reattached` carry. */
export interface Attachment {
  vnic: string;
  parentInterface: string;
  network: string;
  subnet: string;
  gateway?: string;
  mode: "dhcp" | "manual";
  ip?: string;
  mac?: string;
}

/** What the engine reports per network: the parts of `NetworkSettings.Networks` and `listNetworks` read here. */
export interface AttachedEndpoint {
  IPAddress?: string;
  MacAddress?: string;
}
export interface MacvlanNetworkInfo {
  Name: string;
  Options?: Record<string, string>;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> };
}

/** Each configured vNIC as attached now: the MACVLAN network on its parent that the container is on. */
export function vnicAttachments(vnics: VnicConfig[], attached: Record<string, AttachedEndpoint>, macvlans: MacvlanNetworkInfo[]): Attachment[] {
  const out: Attachment[] = [];
  for (const v of vnics) {
    const net = macvlans.find((n) => n.Options?.parent === v.parentInterface && attached[n.Name]);
    if (!net) continue;
    const ep = attached[net.Name]!;
    const pool = net.IPAM?.Config?.[0];
    out.push({
      vnic: v.name,
      parentInterface: v.parentInterface,
      network: net.Name,
      subnet: pool?.Subnet ?? "",
      ...(pool?.Gateway ? { gateway: pool.Gateway } : {}),
      mode: v.mode,
      ...(ep.IPAddress ? { ip: ep.IPAddress } : {}),
      ...(ep.MacAddress ? { mac: ep.MacAddress } : {}),
    });
  }
  return out;
}

/** A configured MAC the engine did not keep on reconnect (Docker < 25 cannot set one on connect). */
export function macNotKeptWarnings(configured: VnicConfig[], attached: Array<{ vnic: string; mac?: string }>): string[] {
  const warnings: string[] = [];
  for (const v of configured) {
    const got = attached.find((x) => x.vnic === v.name);
    if (v.mac && got?.mac && got.mac.toLowerCase() !== v.mac.toLowerCase()) {
      warnings.push(`vNIC ${v.name}: MAC ${v.mac} not kept (got ${got.mac}): this Docker engine cannot set a MAC when connecting a network (needs API 1.44, Docker 25+)`);
    }
  }
  return warnings;
}
