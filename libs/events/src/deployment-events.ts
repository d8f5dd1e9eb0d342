import { z } from "zod";
import { NameSchema } from "./names.js";

/**
 * Deployments from the cloud (docs/fleet.md): what the device's deployer (in `vigil up`) and the
 * decider's deployment policy say. They flow up to the hub with the fleet's sourcing like every event.
 */
const worker = NameSchema;
const version = z.number().int().min(0);
const key = z.string().max(128);

export const DEPLOYMENT_EVENTS = {
  /** A signed deployment arrived, verified (trusted key, good signature, new version, no pinned worker): it will be applied. */
  "dec.deployment.received": z.object({ version, key, workers: z.array(worker), containers: z.array(worker).default([]), healthWindowSeconds: z.number() }),
  /** A deployment (or remote command) refused, with the reason; nothing was applied. */
  "dec.deployment.refused": z.object({
    version: version.optional(),
    code: z.string().max(32),
    reason: z.string().max(2048),
    key: key.optional(),
  }),
  /** The supervisor is asked to reconcile to this version (the reload path, under `change`). */
  "dec.deployment.applying": z.object({ version, change: z.string(), workers: z.array(worker), rollback: z.boolean().default(false) }),
  /** The supervisor's reconcile for the change ended (out.config.applied): the health window starts here. */
  "out.deployment.applied": z.object({
    version,
    change: z.string(),
    /** The deployment's own workers (what the health window watches). */
    workers: z.array(worker),
    healthWindowSeconds: z.number(),
    failed: z.number().int().min(0),
    /** A rollback to the last good version (0: back to the local config alone). */
    rollback: z.boolean().default(false),
    /** For a rollback: the version that failed. */
    from: version.optional(),
  }),
  /** The decider: every worker of the deployment ran the whole health window. */
  "dec.deployment.healthy": z.object({ version, workers: z.array(worker), windowMs: z.number() }),
  /** The decider: roll back to the last good deployment (executed by the deployer). */
  "cmd.deployment.rollback": z.object({ version, worker: worker.optional(), reason: z.string().max(2048), requestedBy: z.string().max(128).default("decider") }),
  /** The deployer: the last good version runs again. */
  "dec.deployment.rolled-back": z.object({ from: version, to: version, reason: z.string().max(2048), change: z.string() }),
  /** A signed remote command from the hub executed (or refused) on this device. */
  "dec.remote.accepted": z.object({ op: z.string().max(16), worker: worker.optional(), operator: z.string().max(96), key }),
  "dec.remote.refused": z.object({ op: z.string().max(16).optional(), reason: z.string().max(2048) }),
} as const;
