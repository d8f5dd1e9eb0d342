import { execFile } from "node:child_process";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";
import type { InterfaceInfo } from "@vigil/events";

const run = promisify(execFile);

interface IpAddr {
  ifindex?: number;
  ifname: string;
  operstate?: string;
  address?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

function subnetOf(ip: string, prefix: number): string {
  const n = ip.split(".").reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${prefix}`;
}

/** `lo`, `veth*`: exact names, or prefixes with a trailing `*`. */
export function ignored(name: string, patterns: string[]): boolean {
  return patterns.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));
}

/**
 * Pure: `ip -json addr` and `ip -json route` → the interfaces worth reporting (not ignored, with at
 * least one IPv4 address), each with its subnets and the gateway of its default (or first) route.
 */
export function parseInterfaces(addrs: IpAddr[], routes: IpRoute[], ignore: string[]): InterfaceInfo[] {
  const out: InterfaceInfo[] = [];
  for (const a of addrs) {
    if (ignored(a.ifname, ignore)) continue;
    const ipv4 = (a.addr_info ?? []).filter((x) => x.family === "inet").map((x) => ({ address: x.local, prefix: x.prefixlen, subnet: subnetOf(x.local, x.prefixlen) }));
    if (!ipv4.length) continue;
    const mine = routes.filter((r) => r.dev === a.ifname && r.gateway);
    const gateway = (mine.find((r) => r.dst === "default") ?? mine[0])?.gateway;
    out.push({
      name: a.ifname,
      ...(a.ifindex !== undefined ? { index: a.ifindex } : {}),
      state: a.operstate ?? "UNKNOWN",
      ...(a.address ? { mac: a.address } : {}),
      ipv4: ipv4.sort((x, y) => x.address.localeCompare(y.address)),
      ...(gateway ? { gateway } : {}),
    });
  }
  return out.sort((x, y) => x.name.localeCompare(y.name));
}

/** Reads the host's interfaces with iproute2 (Node's view, without gateways, where `ip` is missing). */
export async function readInterfaces(ignore: string[]): Promise<InterfaceInfo[]> {
  try {
    const [a, r] = await Promise.all([run("ip", ["-json", "addr", "show"]), run("ip", ["-json", "-4", "route", "show", "table", "main"])]);
    return parseInterfaces(JSON.parse(a.stdout) as IpAddr[], JSON.parse(r.stdout || "[]") as IpRoute[], ignore);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const addrs: IpAddr[] = Object.entries(networkInterfaces()).map(([ifname, list]) => ({
      ifname,
      operstate: "UP",
      addr_info: (list ?? []).filter((x) => x.family === "IPv4").map((x) => ({ family: "inet", local: x.address, prefixlen: Number(x.cidr?.split("/")[1] ?? 32) })),
    }));
    return parseInterfaces(addrs, [], ignore);
  }
}

const same = (a: InterfaceInfo, b: InterfaceInfo) =>
  a.state === b.state && a.gateway === b.gateway && JSON.stringify(a.ipv4) === JSON.stringify(b.ipv4);

/** Pure: what changed between two readings, one entry per interface (null: appeared / gone). */
export function diffInterfaces(before: InterfaceInfo[], after: InterfaceInfo[]): Array<{ interface: string; before: InterfaceInfo | null; after: InterfaceInfo | null }> {
  const b = new Map(before.map((i) => [i.name, i]));
  const a = new Map(after.map((i) => [i.name, i]));
  const names = [...new Set([...b.keys(), ...a.keys()])].sort();
  const out: Array<{ interface: string; before: InterfaceInfo | null; after: InterfaceInfo | null }> = [];
  for (const n of names) {
    const x = b.get(n) ?? null;
    const y = a.get(n) ?? null;
    if (x && y && same(x, y)) continue;
    out.push({ interface: n, before: x, after: y });
  }
  return out;
}
