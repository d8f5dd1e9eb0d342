import { z } from "zod";
import { NameSchema } from "./names.js";

/**
 * Events of the docker driver (container workloads) and netmon. Spread into CATALOG (catalog.ts);
 * container lifecycle itself uses the worker events (obs.worker.*, out.worker.*), so the decider's
 * crash-restart policy applies to containers unchanged.
 */
const name = NameSchema;
const requestedBy = z.string().max(128);

/** One host interface as netmon sees it. */
export const InterfaceSchema = z.object({
  name: z.string(),
  index: z.number().int().optional(),
  state: z.string(),
  mac: z.string().optional(),
  ipv4: z.array(z.object({ address: z.string(), prefix: z.number().int().min(0).max(32), subnet: z.string() })),
  gateway: z.string().optional(),
});
export type InterfaceInfo = z.infer<typeof InterfaceSchema>;

/** A vNIC as attached: the config it was attached with and what Docker gave it. */
const attachment = z.object({
  vnic: name,
  parentInterface: z.string(),
  network: z.string(),
  subnet: z.string(),
  gateway: z.string().optional(),
  mode: z.enum(["dhcp", "manual"]),
  ip: z.string().optional(),
  mac: z.string().optional(),
});

export const CONTAINER_EVENTS = {
  /** A container's networks after create / adopt / reattach: the vNIC record the decider and operators read. */
  "obs.container.networks": z.object({
    worker: name,
    containerId: z.string(),
    internal: z.string().optional(),
    vnics: z.array(attachment),
  }),
  /** Docker healthcheck transitions of a container workload. */
  "obs.container.health": z.object({ worker: name, containerId: z.string(), status: z.enum(["starting", "healthy", "unhealthy"]) }),
  /** The docker driver cannot reach the engine: its workloads are not run (process workers are unaffected). */
  "sys.docker.unavailable": z.object({ socketPath: z.string(), error: z.string(), workloads: z.array(name) }),
  "sys.docker.available": z.object({ socketPath: z.string(), version: z.string(), adopted: z.array(name) }),

  /** Move a container's vNICs on `interface` to the MACVLAN network of its current subnet. */
  "cmd.container.reattach": z.object({
    worker: name,
    interface: z.string(),
    /** The parent's new subnet and gateway, as netmon saw them (the driver looks them up when absent). */
    subnet: z.string().optional(),
    gateway: z.string().optional(),
    delayMs: z.number().int().min(0).max(3_600_000).default(0),
    reason: z.string().max(1024).optional(),
    requestedBy: requestedBy.default("unknown"),
  }),
  "out.container.reattached": z.object({
    worker: name,
    command: z.string(),
    requestedBy: requestedBy.default("unknown"),
    vnics: z.array(attachment),
    /** What could not be kept, e.g. a configured MAC on an engine older than API 1.44. */
    warnings: z.array(z.string()).optional(),
  }),

  /** Every reported interface: at start and after cmd.net.discover. */
  "obs.net.discovery": z.object({ interfaces: z.array(InterfaceSchema) }),
  /** One interface changed (after the debounce): before and after (null: appeared / gone). */
  "obs.net.changed": z.object({ interface: z.string(), before: InterfaceSchema.nullable(), after: InterfaceSchema.nullable() }),
  "obs.net.online": z.object({ endpoint: z.string(), latencyMs: z.number().min(0) }),
  "obs.net.offline": z.object({ endpoint: z.string(), error: z.string() }),
  /** Ask netmon for a fresh obs.net.discovery. */
  "cmd.net.discover": z.object({ requestedBy: requestedBy.default("unknown") }),
} as const satisfies Record<string, z.ZodType>;
