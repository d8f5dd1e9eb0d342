import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { z } from "zod";
import { ContainerSchema, WorkerSchema } from "./config.js";
import { NameSchema } from "./names.js";

/**
 * Deployments from the cloud (docs/fleet.md, docs/decisions/0012-deployments.md): a document with a
 * monotonic version, a target and the `workers:` / `containers:` sections of vigil.yaml, signed with
 * an operator's ed25519 key over its canonical JSON. The device trusts only the keys pinned in its own
 * config (`fleet.trust`); everything here is pure so the rules are unit-tested on their own.
 */

export const DeploymentTargetSchema = z
  .object({
    /** Device ids. */
    devices: z.array(NameSchema).min(1).optional(),
    /** A label selector: every key must equal the device's `labels:` value. */
    select: z.record(z.string().max(64), z.string().max(128)).optional(),
  })
  .strict()
  .refine((t) => !!t.devices !== !!t.select, "name either devices or select, not both and not neither");

export const DeploymentSchema = z
  .object({
    /** Monotonic across the fleet: a device applies only a version above the last one it applied. */
    version: z.number().int().min(1),
    target: DeploymentTargetSchema,
    /** How long the decider watches the deployment's workers before it is healthy. */
    healthWindowSeconds: z.number().min(1).max(3600).default(30),
    workers: z.array(WorkerSchema).default([]),
    containers: z.array(ContainerSchema).default([]),
    description: z.string().max(1024).optional(),
  })
  .strict();
export type Deployment = z.infer<typeof DeploymentSchema>;

/** What travels: the document as written (before defaults), the signature over its canonical JSON, and the signer's public key. */
export interface SignedDocument {
  /** The document, plain JSON (what was signed). */
  body: unknown;
  /** base64 ed25519 signature over canonicalJson(body). */
  signature: string;
  /** The signer: `ed25519:<base64 of the raw 32-byte public key>` (what `fleet.trust` lists). */
  key: string;
}

/** JSON with object keys sorted at every level and no whitespace: the bytes that are signed. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error("canonical JSON: numbers must be finite");
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
export const KEY_PREFIX = "ed25519:";

/** A public key in the `ed25519:<base64>` form that config and messages carry. */
export function publicKeyText(k: KeyObject): string {
  const der = k.export({ format: "der", type: "spki" });
  return KEY_PREFIX + der.subarray(der.length - 32).toString("base64");
}

/** `ed25519:<base64>` → a KeyObject; throws naming the problem. */
export function publicKeyFrom(text: string): KeyObject {
  if (!text.startsWith(KEY_PREFIX)) throw new Error(`a public key must look like ${KEY_PREFIX}<base64>`);
  const raw = Buffer.from(text.slice(KEY_PREFIX.length), "base64");
  if (raw.length !== 32) throw new Error(`an ed25519 public key is 32 bytes, this one is ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

/** A new operator key pair: the private key as PKCS#8 PEM (keep it secret), the public key for `fleet.trust`. */
export function generateOperatorKey(): { privatePem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), publicKey: publicKeyText(publicKey) };
}

/** Signs any plain-JSON body with a PKCS#8 PEM ed25519 private key. */
export function signDocument(body: unknown, privatePem: string): SignedDocument {
  const key = createPrivateKey(privatePem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`the key must be ed25519, not ${key.asymmetricKeyType}`);
  const signature = sign(null, Buffer.from(canonicalJson(body)), key).toString("base64");
  return { body, signature, key: publicKeyText(createPublicKey(key)) };
}

export type SignatureCheck = { ok: true } | { ok: false; code: "malformed" | "unknown-key" | "bad-signature"; reason: string };

/** Whether `signed` is well formed, signed by one of `trust`, and the signature matches its body. */
export function checkSignature(signed: unknown, trust: readonly string[]): SignatureCheck {
  const s = signed as Partial<SignedDocument> | null;
  if (!s || typeof s !== "object" || typeof s.signature !== "string" || typeof s.key !== "string" || s.body === undefined) {
    return { ok: false, code: "malformed", reason: "not a signed document: it needs body, signature and key" };
  }
  if (!trust.includes(s.key)) return { ok: false, code: "unknown-key", reason: `signed by ${s.key}, which is not in this device's fleet.trust` };
  let good = false;
  try {
    good = verify(null, Buffer.from(canonicalJson(s.body)), publicKeyFrom(s.key), Buffer.from(s.signature, "base64"));
  } catch (err) {
    return { ok: false, code: "bad-signature", reason: `the signature cannot be checked: ${(err as Error).message}` };
  }
  return good ? { ok: true } : { ok: false, code: "bad-signature", reason: `the signature does not match the document (signed by ${s.key}): it was altered or signed with another key` };
}

/** What a device knows when it judges a deployment: its own config and what it applied last. */
export interface DeviceTrust {
  device: string;
  labels: Record<string, string>;
  trust: readonly string[];
  pinned: readonly string[];
  acceptDeployments: boolean;
  /** The highest version applied so far (0: none). */
  lastVersion: number;
}

export type RefusalCode = SignatureCheck extends infer C ? (C extends { ok: false; code: infer K } ? K : never) : never;
export type DeploymentVerdict =
  | { ok: true; deployment: Deployment; key: string }
  | { ok: false; code: RefusalCode | "disabled" | "invalid" | "old-version" | "pinned" | "not-targeted"; reason: string; version?: number };

/** Whether a deployment targets this device (by id or by every label of its selector). */
export function targets(d: Pick<Deployment, "target">, device: string, labels: Record<string, string>): boolean {
  if (d.target.devices) return d.target.devices.includes(device);
  return Object.entries(d.target.select ?? {}).every(([k, v]) => labels[k] === v);
}

/**
 * The device's judgement of a signed deployment, in order: the path is on, the signature is good and
 * by a trusted key, the document validates, it targets this device, its version is new (unless
 * `checkVersion: false`: re-applying the device's own last good one on rollback), and it touches no pinned worker.
 */
export function verifyDeployment(signed: unknown, t: DeviceTrust, o: { checkVersion?: boolean } = {}): DeploymentVerdict {
  if (!t.acceptDeployments) return { ok: false, code: "disabled", reason: "this device does not accept deployments (fleet.acceptDeployments: false)" };
  const sig = checkSignature(signed, t.trust);
  if (!sig.ok) return { ...sig, ...versionOf(signed) };
  const parsed = DeploymentSchema.safeParse((signed as SignedDocument).body);
  if (!parsed.success) return { ok: false, code: "invalid", reason: `the deployment does not validate: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(document)"}: ${i.message}`).join("; ")}`, ...versionOf(signed) };
  const d = parsed.data;
  if (!targets(d, t.device, t.labels)) return { ok: false, code: "not-targeted", reason: `deployment ${d.version} does not target ${t.device}`, version: d.version };
  if (o.checkVersion !== false && d.version <= t.lastVersion) return { ok: false, code: "old-version", reason: `version ${d.version} is not above the last one applied here (${t.lastVersion}): a replayed or stale deployment`, version: d.version };
  const touched = [...d.workers, ...d.containers].map((w) => w.name).filter((n) => t.pinned.includes(n));
  if (touched.length) return { ok: false, code: "pinned", reason: `it changes pinned worker(s) ${touched.join(", ")} (fleet.pinned: only the local config may change them)`, version: d.version };
  const names = [...d.workers, ...d.containers].map((w) => w.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) return { ok: false, code: "invalid", reason: `the deployment declares "${dup}" twice`, version: d.version };
  return { ok: true, deployment: d, key: (signed as SignedDocument).key };
}

function versionOf(signed: unknown): { version?: number } {
  const v = ((signed as SignedDocument | null)?.body as { version?: unknown } | undefined)?.version;
  return typeof v === "number" && Number.isInteger(v) ? { version: v } : {};
}

/**
 * The workers (or containers) a device runs with a deployment: its local ones, each replaced by the deployment's of
 * the same name (never a pinned one: verifyDeployment refused that), plus the deployment's new ones.
 * A deployment replaces the previous deployment as a whole: only the local config and this one count.
 */
export function mergeWorkers<W extends { name: string }>(local: readonly W[], deployed: readonly W[]): W[] {
  const byName = new Map(deployed.map((w) => [w.name, w]));
  const merged = local.map((w) => byName.get(w.name) ?? w);
  return [...merged, ...deployed.filter((w) => !local.some((l) => l.name === w.name))];
}

/** A remote command (`vigil fleet restart dev-1 sensor`): short-lived, with a nonce, signed like a deployment. */
export const RemoteRequestSchema = z
  .object({
    device: NameSchema,
    op: z.enum(["restart", "stop", "start", "pause", "resume", "logs", "state"]),
    worker: NameSchema.optional(),
    lines: z.number().int().min(1).max(10_000).optional(),
    /** Who asks (the operator's name as the CLI says it, e.g. $USER@host). */
    operator: z.string().min(1).max(96),
    /** Epoch ms when it was signed. */
    ts: z.number().int(),
    nonce: z.string().min(16).max(64),
  })
  .strict();
export type RemoteRequest = z.infer<typeof RemoteRequestSchema>;

/** How long a signed remote request is valid, each way of the clocks. */
export const REMOTE_MAX_SKEW_MS = 60_000;

export type RemoteVerdict = { ok: true; request: RemoteRequest; key: string } | { ok: false; reason: string };

/** A remote request's judgement: trusted signature, for this device, fresh, and a nonce not seen before (`seen`). */
export function verifyRemoteRequest(signed: unknown, o: { device: string; trust: readonly string[]; acceptRemote: boolean; now: number; seen: (nonce: string) => boolean }): RemoteVerdict {
  if (!o.acceptRemote) return { ok: false, reason: "this device does not accept remote commands (fleet.acceptDeployments: false)" };
  const sig = checkSignature(signed, o.trust);
  if (!sig.ok) return { ok: false, reason: sig.reason };
  const p = RemoteRequestSchema.safeParse((signed as SignedDocument).body);
  if (!p.success) return { ok: false, reason: `not a valid remote request: ${p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
  const r = p.data;
  if (r.device !== o.device) return { ok: false, reason: `the request is for ${r.device}, not ${o.device}` };
  if (Math.abs(o.now - r.ts) > REMOTE_MAX_SKEW_MS) return { ok: false, reason: `the request is ${Math.round((o.now - r.ts) / 1000)} s old: signed requests are valid ${REMOTE_MAX_SKEW_MS / 1000} s` };
  if (o.seen(r.nonce)) return { ok: false, reason: `replayed: nonce ${r.nonce} was already used` };
  return { ok: true, request: r, key: (signed as SignedDocument).key };
}
