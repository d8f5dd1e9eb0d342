import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { parse as parseYaml } from "yaml";
import { decodeEvent, DeploymentSchema, generateOperatorKey, isNotFound, signDocument, type VigilEvent } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { DEPLOY_STREAM, deploySubject } from "./deploy-agent.js";
import { remoteSubject } from "./deploy-remote.js";
import { rolloutStages, type DeviceOutcome } from "./deploy-rollout.js";

/**
 * The hub half of deployments (docs/fleet.md): `vigil fleet keygen | deploy | deployments` and the
 * remote commands. Deployments are signed here with the operator's key and published into the hub's
 * VIGIL_DEPLOY stream on `deploy.<device>`; a staged rollout keeps its progress in the hub KV bucket
 * VIGIL_ROLLOUTS (resumable: run the same command again); outcomes are read from VIGIL_FLEET.
 */

export interface DeployOptions {
  to?: string;
  select?: string;
  key?: string;
  canary?: string;
  then?: string[];
  wait?: string;
  out?: string;
  lines?: string;
}

export const ROLLOUT_BUCKET = "VIGIL_ROLLOUTS";
const say = (s: string) => process.stdout.write(`${s}\n`);

export function keygen(o: DeployOptions): number {
  const file = o.out ?? "operator.key";
  if (existsSync(file)) throw new UsageError(`${file} exists: keygen never overwrites a key (pass --out another file)`);
  const k = generateOperatorKey();
  writeFileSync(file, k.privatePem, { mode: 0o600 });
  say(`private key written to ${file} (0600: keep it secret; it signs deployments and remote commands)`);
  say(`public key, for each device's fleet.trust:\n  ${k.publicKey}`);
  return 0;
}

function readKey(o: DeployOptions): string {
  const file = o.key ?? process.env.VIGIL_FLEET_KEY;
  if (!file) throw new UsageError("which operator key signs this? --key FILE (from 'vigil fleet keygen') or $VIGIL_FLEET_KEY");
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--key ${file}: ${(err as Error).message}`);
  }
}

/** The deployment file with the target the command line names (it overrides the file's). */
function readDeployment(file: string, o: DeployOptions): Record<string, unknown> {
  let raw: unknown;
  try {
    const text = readFileSync(file, "utf8");
    raw = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const body = { ...(raw as Record<string, unknown>) };
  if (o.to && o.select) throw new UsageError("--to or --select, not both");
  if (o.to) body.target = { devices: o.to.split(",").map((s) => s.trim()).filter(Boolean) };
  if (o.select) body.target = { select: Object.fromEntries(o.select.split(",").map((kv) => kv.split("=").map((s) => s.trim()) as [string, string])) };
  const p = DeploymentSchema.safeParse(body);
  if (!p.success) throw new UsageError(`${file} is not a valid deployment: ${p.error.issues.map((i) => `${i.path.join(".") || "(document)"}: ${i.message}`).join("; ")}`);
  return body;
}

async function ensureDeployStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(DEPLOY_STREAM);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add({ name: DEPLOY_STREAM, subjects: ["deploy.>"], storage: StorageType.File, retention: RetentionPolicy.Limits, max_msgs_per_subject: 10, num_replicas: 1 });
  }
}

/** `vigil fleet deploy FILE …`: sign, then publish to every target at once or stage by stage. */
export async function deploy(nc: NatsConnection, file: string | undefined, fleetDevices: () => Promise<string[]>, o: DeployOptions, fleetStream: string): Promise<number> {
  if (!file) throw new UsageError("fleet deploy FILE: name the deployment file (workers:, version:)");
  const body = readDeployment(file, o);
  const signed = signDocument(body, readKey(o));
  const d = DeploymentSchema.parse(body);
  const devices = d.target.devices ?? (await fleetDevices()); // a selector goes to every device; each matches its own labels
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureDeployStream(jsm);
  const js = jetstream(nc);
  const publish = async (dev: string) => {
    await js.publish(deploySubject(dev), JSON.stringify(signed), { msgID: `deploy-${dev}-${d.version}` });
    say(`${dev}: deployment ${d.version} published on ${deploySubject(dev)}`);
  };
  const waitMs = Number(o.wait ?? (o.canary ? d.healthWindowSeconds + 120 : 0)) * 1000;
  if (!o.canary) {
    for (const dev of devices) await publish(dev);
    if (!waitMs) return 0;
    const outcomes = await waitOutcomes(jsm, fleetStream, devices, d.version, waitMs);
    for (const [dev, r] of Object.entries(outcomes)) say(`${dev}: ${r}`);
    return Object.values(outcomes).every((r) => r === "healthy") ? 0 : 1;
  }
  const stages = rolloutStages(devices, o.canary, o.then ?? []);
  const kv = await new Kvm(nc).create(ROLLOUT_BUCKET, { history: 5 });
  const key = `v${d.version}`;
  const saved = await kv.get(key);
  const state: RolloutState = saved?.value?.length ? saved.json() : { version: d.version, stages, stage: 0, state: "running", outcomes: {}, since: new Date().toISOString() };
  if (state.state !== "running") return say(`rollout of ${d.version} is ${state.state} (${ROLLOUT_BUCKET} ${key})`), state.state === "done" ? 0 : 1;
  for (; state.stage < state.stages.length; state.stage++) {
    const stage = state.stages[state.stage]!;
    say(`stage ${state.stage + 1}/${state.stages.length}: ${stage.join(", ")}`);
    for (const dev of stage) if (!state.outcomes[dev]) await publish(dev);
    await kv.put(key, JSON.stringify(state));
    const outcomes = await waitOutcomes(jsm, fleetStream, stage, d.version, waitMs);
    Object.assign(state.outcomes, outcomes);
    for (const dev of stage) say(`${dev}: ${outcomes[dev]}`);
    const bad = stage.filter((dev) => outcomes[dev] !== "healthy");
    if (bad.length) {
      state.state = "halted";
      state.since = new Date().toISOString();
      await kv.put(key, JSON.stringify(state));
      say(`rollout of ${d.version} HALTED at stage ${state.stage + 1}: ${bad.map((x) => `${x} ${outcomes[x]}`).join(", ")}; the other devices stay on their version`);
      return 1;
    }
  }
  state.state = "done";
  state.since = new Date().toISOString();
  await kv.put(key, JSON.stringify(state));
  say(`rollout of ${d.version} done: ${devices.length} devices healthy`);
  return 0;
}

/** What each device said about `version` (from VIGIL_FLEET), polled until every one has an outcome or the time is up. */
async function waitOutcomes(jsm: JetStreamManager, stream: string, devices: string[], version: number, timeoutMs: number): Promise<Record<string, DeviceOutcome>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out: Record<string, DeviceOutcome> = {};
    for (const dev of devices) out[dev] = (await deviceDeployment(jsm, stream, dev, version)).state;
    if (Object.values(out).every((s) => s === "healthy" || s === "rolled-back" || s === "refused") || Date.now() > deadline) return out;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function last(jsm: JetStreamManager, stream: string, subject: string): Promise<VigilEvent | undefined> {
  try {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return m ? decodeEvent(m.subject, m.data) : undefined;
  } catch {
    return undefined;
  }
}

/** A device's latest deployment state from its sourced events (for one version, or the newest). */
export async function deviceDeployment(jsm: JetStreamManager, stream: string, dev: string, version?: number): Promise<{ state: DeviceOutcome; version?: number; since?: string }> {
  const names = ["refused", "received", "applying", "healthy", "rolled-back"] as const;
  const evs = (await Promise.all(names.map((n) => last(jsm, stream, `vigil.${dev}.dec.deployment.${n}`)))).filter((e): e is VigilEvent => !!e);
  const versionOf = (e: VigilEvent) => {
    const x = e.data as { version?: number; from?: number };
    return e.type.endsWith("rolled-back") ? x.from : x.version;
  };
  const mine = evs.filter((e) => version === undefined || versionOf(e) === version).sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  const e = mine.at(-1);
  if (!e) return { state: "pending" };
  const state = e.type.split(".").at(-1) as DeviceOutcome;
  return { state, version: versionOf(e), since: e.time };
}

/** A staged rollout's progress as kept in VIGIL_ROLLOUTS (key `v<version>`). */
export interface RolloutState {
  version: number;
  stages: string[][];
  stage: number;
  state: "running" | "halted" | "done";
  outcomes: Record<string, DeviceOutcome>;
  /** When the state last changed (ISO). */
  since?: string;
}

/** Every staged rollout the hub remembers, oldest version first (none when no rollout ever ran: the bucket is made by the first). */
async function rollouts(nc: NatsConnection): Promise<RolloutState[]> {
  let kv;
  try {
    kv = await new Kvm(nc).open(ROLLOUT_BUCKET);
    await kv.status();
  } catch {
    return [];
  }
  const out: RolloutState[] = [];
  for await (const k of await kv.keys()) {
    const e = await kv.get(k);
    if (e?.value?.length) out.push(e.json<RolloutState>());
  }
  return out.sort((a, b) => a.version - b.version);
}

export async function deployments(nc: NatsConnection, stream: string, devices: string[], json: boolean): Promise<number> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const rows = [];
  for (const dev of devices) rows.push({ device: dev, ...(await deviceDeployment(jsm, stream, dev)) });
  const staged = await rollouts(nc);
  if (json) return say(JSON.stringify({ devices: rows, rollouts: staged })), 0;
  const ago = (t?: string) => (t ? `${Math.round((Date.now() - Date.parse(t)) / 1000)}s ago (${t})` : "-");
  say("DEVICE  VERSION  STATE        SINCE");
  for (const r of rows) say(`${r.device.padEnd(7)} ${String(r.version ?? "-").padEnd(8)} ${r.state.padEnd(12)} ${ago(r.since)}`);
  for (const r of staged) {
    const bad = Object.entries(r.outcomes).filter(([, o]) => o !== "healthy").map(([d, o]) => `${d} ${o}`);
    const where = r.state === "done" ? `${r.stages.length} stages` : `stage ${Math.min(r.stage, r.stages.length - 1) + 1}/${r.stages.length}`;
    say(`rollout v${r.version}: ${r.state.toUpperCase()} at ${where}${bad.length ? ` (${bad.join(", ")})` : ""}, since ${ago(r.since)}`);
  }
  return 0;
}

/** A signed, short-lived request to one device (restart|stop|start|pause|resume|logs|state). */
export function signedRemoteRequest(device: string, op: string, worker: string | undefined, o: DeployOptions) {
  const operator = `${process.env.VIGIL_OPERATOR ?? userInfo().username}@${hostname()}`;
  const body = { device, op, ...(worker ? { worker } : {}), ...(o.lines ? { lines: Number(o.lines) } : {}), operator, ts: Date.now(), nonce: randomBytes(12).toString("hex") };
  return signDocument(body, readKey(o));
}

export async function remote(nc: NatsConnection, op: string, args: string[], o: DeployOptions, json: boolean): Promise<number> {
  const [device, worker] = args;
  if (!device) throw new UsageError(`fleet ${op} <device>${op === "state" ? "" : " <worker>"}`);
  if (op !== "state" && !worker) throw new UsageError(`fleet ${op} ${device} <worker>: name the worker`);
  const signed = signedRemoteRequest(device, op, worker, o);
  let reply: { ok: boolean; error?: string; lines?: string[]; pid?: number; previousPid?: number; requestedBy?: string };
  try {
    reply = JSON.parse((await nc.request(remoteSubject(device), JSON.stringify(signed), { timeout: 35_000 })).string());
  } catch (err) {
    throw new UsageError(`${device} did not answer (${(err as Error).message}): is its link up?`, 1);
  }
  if (json) say(JSON.stringify(reply));
  else if (!reply.ok) say(`${device}: ${op} REFUSED: ${reply.error}`);
  else if (op === "logs") say((reply.lines ?? []).join("\n"));
  else if (op === "state") say(JSON.stringify(reply, null, 2));
  else say(`${device}: ${worker} ${op} done${reply.pid ? `, pid ${reply.pid}` : ""}${reply.previousPid ? ` (was ${reply.previousPid})` : ""}, requested by ${reply.requestedBy}`);
  return reply.ok ? 0 : 1;
}
