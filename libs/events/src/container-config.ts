import { z } from "zod";
import { NameSchema } from "./catalog.js";

/**
 * Config of container workloads (the supervisor's docker driver) and of netmon. Kept apart from
 * config.ts (which composes it) so the network fields and their cross-checks sit together.
 */

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
export const Ipv4Schema = z.string().regex(IPV4, "must be an IPv4 address like 192.168.1.10");
export const CidrSchema = z
  .string()
  .regex(new RegExp(`^${OCTET}(\\.${OCTET}){3}/([0-9]|[12]\\d|3[0-2])$`), "must be an IPv4 subnet like 192.168.1.0/24");
/** Linux interface names: at most 15 characters, no '/' or spaces. */
export const InterfaceNameSchema = z.string().regex(/^[A-Za-z0-9_.@:-]{1,15}$/, "must be a network interface name (1–15 letters, digits, '_', '.', '-', '@', ':')");

/** One virtual NIC on a MACVLAN network over a host interface (the seed's vNIC schema). */
export const VnicSchema = z
  .object({
    /** The vNIC's name (for events and logs). */
    name: NameSchema,
    /** The host interface the MACVLAN network sits on (e.g. eth1). */
    parentInterface: InterfaceNameSchema,
    /** The parent's subnet and gateway; found by netmon / the driver when omitted. */
    parentSubnet: CidrSchema.optional(),
    parentGateway: Ipv4Schema.optional(),
    /** dhcp: Docker's IPAM picks a free address of the subnet; manual: `ip` below. */
    mode: z.enum(["dhcp", "manual"]).default("dhcp"),
    ip: Ipv4Schema.optional(),
    /** Manual mode: the subnet and gateway of `ip` (default: the parent's). */
    subnet: CidrSchema.optional(),
    gateway: Ipv4Schema.optional(),
    dns: z.array(Ipv4Schema).default([]),
    /** A fixed MAC (locally administered, e.g. 02:42:c6:33:64:0a); Docker generates one when omitted. */
    mac: z
      .string()
      .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, "must be a MAC address like 02:42:ac:11:00:02")
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.mode === "manual" && !v.ip) ctx.addIssue({ code: "custom", path: ["ip"], message: "is required when mode is manual" });
    if (v.mode === "dhcp" && v.ip) ctx.addIssue({ code: "custom", path: ["ip"], message: "is only used with mode: manual" });
  });
export type VnicConfig = z.infer<typeof VnicSchema>;

const MEMORY = /^(\d+)([bkmg]?)$/i;
/** "16m", "512k", "1g" or a number of bytes → bytes. */
export function memoryBytes(v: string | number): number {
  if (typeof v === "number") return v;
  const m = MEMORY.exec(v.trim());
  if (!m) return NaN;
  const mult = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "b" | "k" | "m" | "g"];
  return Number(m[1]) * mult;
}
const MemorySchema = z
  .union([z.number().int().min(6 * 1024 * 1024), z.string().regex(MEMORY, 'must be a size like "64m", "512k", "1g" or a number of bytes')])
  .refine((v) => memoryBytes(v) >= 6 * 1024 * 1024, "must be at least 6m (Docker's minimum)");

/**
 * A container workload: commanded like a worker (cmd.worker.*), run by the supervisor's docker driver.
 * Built by config.ts with its restart-policy schema (config.ts imports this file, not the reverse).
 */
export const makeContainerSchema = <R extends z.ZodType>(restart: R) => z
  .object({
    name: NameSchema,
    /** A local image (never pulled by Vigil unless `pull: true`). */
    image: z.string().min(1).max(256),
    /** Overrides the image's CMD (an argument list, never a shell line). */
    command: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).default({}),
    labels: z.record(z.string(), z.string()).default({}),
    /** CPU limit in cores (e.g. 0.5). */
    cpus: z.number().positive().max(1024).optional(),
    /** Memory limit; swap is limited to the same amount (no swap beyond it). */
    memory: MemorySchema.optional(),
    essential: z.boolean().default(false),
    priority: z.number().int().default(0),
    /** docker stop's timeout: SIGTERM, then SIGKILL after this long. */
    stopGraceMs: z.number().int().min(0).default(5_000),
    restart,
    /** A per-container internal bridge network `<name>_internal` (no external routing). */
    internalNetwork: z.boolean().default(true),
    vnics: z.array(VnicSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.vnics.forEach((v, i) => {
      if (seen.has(v.name)) ctx.addIssue({ code: "custom", path: ["vnics", i, "name"], message: `duplicate vNIC name "${v.name}"` });
      seen.add(v.name);
    });
  });

export const DockerSchema = z
  .object({
    /** The Docker engine's socket. */
    socketPath: z.string().min(1).default("/var/run/docker.sock"),
  })
  .strict();
export type DockerConfig = z.infer<typeof DockerSchema>;

export const NetmonSchema = z
  .object({
    /** Changes on one interface within this window are reported once (the last state wins). */
    debounceMs: z.number().int().min(0).default(3_000),
    /** Interfaces never reported; a trailing * matches a prefix. */
    ignore: z.array(z.string().min(1)).default(["lo", "docker0", "veth*", "br-*"]),
    /** monitor: `ip -json monitor` (netlink) with a poll as safety net; poll: polling only. */
    mode: z.enum(["monitor", "poll"]).default("monitor"),
    pollMs: z.number().int().min(100).default(10_000),
    /** The cloud endpoint whose reachability is net.online / net.offline (a TCP connect). */
    uplink: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
        intervalMs: z.number().int().min(100).default(10_000),
        timeoutMs: z.number().int().min(50).default(3_000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type NetmonConfig = z.infer<typeof NetmonSchema>;
