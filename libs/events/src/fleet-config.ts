import { z } from "zod";

/**
 * The fleet uplink (docs/fleet.md): the embedded nats-server of `vigil up` runs JetStream in its own
 * domain and connects to the cloud hub as a leaf node; the hub's fleet stream sources this device's
 * VIGIL stream through that domain. Kept apart from config.ts (which composes it).
 */

/** A leafnode URL of the hub: nats-leaf://, tls://, nats://, ws:// or wss://, host and port, no credentials in it. */
const HubUrlSchema = z
  .string()
  .regex(/^(nats-leaf|nats|tls|ws|wss):\/\//, "must be a leafnode URL like nats-leaf://hub.example.com:7422 (schemes: nats-leaf, nats, tls, ws, wss)")
  .refine((u) => !/^[a-z-]+:\/\/[^/@]*@/.test(u), "must not hold credentials (they would end up in logs); use fleet.user / fleet.pass or fleet.credentials")
  .refine((u) => /^[a-z-]+:\/\/[^\s/:@]+:\d{1,5}\/?$/.test(u), "must name a host and a port, e.g. nats-leaf://hub.example.com:7422");

export const FleetSchema = z
  .object({
    /** The hub's leafnode listener (one URL or a list: the server tries them in turn). */
    hub: z.union([HubUrlSchema, z.array(HubUrlSchema).min(1, "must list at least one URL")]).transform((h) => (Array.isArray(h) ? h : [h])),
    /** Leafnode user and password, when the hub's `leafnodes.authorization` requires them. */
    user: z.string().min(1).optional(),
    pass: z.string().min(1).optional(),
    /** A NATS credentials file (JWT + nkey seed), for hubs run in operator mode. Relative to the config file. */
    credentials: z.string().min(1).optional(),
    /** TLS to the hub: the CA that signed its certificate, and an optional client certificate and key (paths). */
    tls: z.object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).strict().optional(),
    /** The JetStream domain of this device; default the device id. Must be unique in the fleet. */
    domain: z.string().regex(/^[A-Za-z0-9_-]+$/, "must use only letters, digits, '_' and '-'").max(64).optional(),
    /** How often `vigil up` checks the leaf connection (the embedded server's /leafz) and reports changes as sys.fleet.uplink. */
    checkSeconds: z.number().min(0.2).max(3600).default(5),
    /** The embedded server's monitoring port on 127.0.0.1 (/leafz is read from it); 0 picks a free one. */
    monitorPort: z.number().int().min(0).max(65535).default(0),
    /** The hub's JetStream domain: deployments are sourced from its VIGIL_DEPLOY stream through it (docs/fleet.md). */
    hubDomain: z.string().regex(/^[A-Za-z0-9_-]+$/, "must use only letters, digits, '_' and '-'").max(64).default("hub"),
    /** Operator public keys (`ed25519:<base64>`, from `vigil fleet keygen`) whose deployments and remote commands this device accepts. */
    trust: z.array(z.string().regex(/^ed25519:[A-Za-z0-9+/]{43}=$/, "must be an ed25519 public key as `vigil fleet keygen` prints it (ed25519:<base64>)")).default([]),
    /** Workers no deployment may add, change or remove: only this local config decides them. */
    pinned: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).default([]),
    /** false: deployments and remote commands are refused (each with an event), whatever they are signed with. */
    acceptDeployments: z.boolean().default(true),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (!!f.user !== !!f.pass) ctx.addIssue({ code: "custom", path: [f.user ? "pass" : "user"], message: "user and pass must be given together" });
    if (f.credentials && f.user) ctx.addIssue({ code: "custom", path: ["credentials"], message: "use either credentials or user/pass, not both" });
    if (f.tls && !!f.tls.cert !== !!f.tls.key) ctx.addIssue({ code: "custom", path: ["tls"], message: "cert and key must be given together" });
  });
export type FleetConfig = z.infer<typeof FleetSchema>;
