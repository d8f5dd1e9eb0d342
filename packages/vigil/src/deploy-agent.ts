import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { createPublisher, is, isNotFound, tailEvents, verifyDeployment, type EventMeta, type Publisher, type VigilConfig, type VigilEvent } from "@vigil/events";
import { deployFiles, readJson, readState, removeSynced, writeState, writeSynced, type DeployState } from "./deploy-files.js";
import { startRemoteResponder, type RemoteResponder } from "./deploy-remote.js";
import { downlinkDeliverPrefix } from "./fleet-hub-auth.js";

/**
 * The device half of deployments (docs/fleet.md, decisions/0012), run by `vigil up` beside the
 * uplink watch. The device's own stream VIGIL_DEPLOY_IN sources `deploy.<device>` from the hub's
 * VIGIL_DEPLOY through the hub's JetStream domain, so a deployment published while the link was down
 * arrives when it returns. Each one is verified against the local config (trust, version, pinned),
 * written to <dataDir>/deployment/desired.json and applied by the supervisor's reload path; the
 * decider's deployment policy then calls it healthy or commands a rollback, which is executed here.
 */

export const DEPLOY_STREAM = "VIGIL_DEPLOY";
export const DEVICE_DEPLOY_STREAM = "VIGIL_DEPLOY_IN";
export const deploySubject = (device: string): string => `deploy.${device}`;
const APPLY_TIMEOUT_MS = 60_000;

export interface Deployer {
  stop(): Promise<void>;
}

/** The device's deployment inbox: no subjects of its own, one source (this device's subject of the hub's stream). */
export async function ensureDeviceDeployStream(jsm: JetStreamManager, device: string, hubDomain: string): Promise<void> {
  const cfg = {
    name: DEVICE_DEPLOY_STREAM,
    subjects: [],
    sources: [{ name: DEPLOY_STREAM, filter_subject: deploySubject(device), external: { api: `$JS.${hubDomain}.API`, deliver: downlinkDeliverPrefix(device) } }],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_msgs: 100,
    num_replicas: 1,
  };
  try {
    await jsm.streams.info(DEVICE_DEPLOY_STREAM);
    await jsm.streams.update(DEVICE_DEPLOY_STREAM, cfg);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add(cfg);
  }
}

export async function startDeployer(nc: NatsConnection, config: VigilConfig, say: (m: string) => void): Promise<Deployer> {
  const fleet = config.fleet!;
  const files = deployFiles(config.dataDir);
  const pub = await createPublisher(nc, { device: config.device, source: `vigil/${config.device}/deployer`, outboxDir: join(files.dir, "outbox") });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureDeviceDeployStream(jsm, config.device, fleet.hubDomain);
  const waits = new Map<string, (e: VigilEvent) => void>();
  let supervisorPid: number | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = chain.then(f);
    chain = next.catch((err) => say(`deployment: ${(err as Error).message}`));
    return next;
  };
  const ctx: ApplyCtx = { config, pub, say, waits, supervisorPid: () => supervisorPid };

  const tail = await tailEvents(nc, { stream: config.stream.name, filter: `vigil.${config.device}.>`, from: "new" }, (e) => {
    if ((is(e, "sys.service.heartbeat") || is(e, "sys.service.started")) && e.data.service === "supervisor") {
      const first = supervisorPid === undefined;
      supervisorPid = e.data.pid;
      // After a restart of vigil up the supervisor booted the local config: the deployment comes back through a reload.
      if (first && existsSync(files.desired)) void serial(() => reload(ctx, `redeploy-${randomUUID()}`));
    }
    if (is(e, "out.config.applied")) waits.get(e.data.change)?.(e);
    if (is(e, "dec.deployment.healthy")) void serial(async () => promote(ctx, e.data.version));
    if (is(e, "cmd.deployment.rollback")) void serial(() => rollback(ctx, e));
  });

  const js = jetstream(nc);
  await jsm.consumers.add(DEVICE_DEPLOY_STREAM, { durable_name: "deployer", ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 120_000_000_000, max_deliver: 5 });
  const consumer = await js.consumers.get(DEVICE_DEPLOY_STREAM, "deployer");
  const messages = await consumer.consume({ max_messages: 1 });
  const loop = (async () => {
    for await (const m of messages) {
      let signed: unknown;
      try {
        signed = JSON.parse(m.string());
      } catch {
        signed = undefined;
      }
      await serial(() => receive(ctx, signed)).catch(() => undefined);
      m.ack();
    }
  })();
  const remote: RemoteResponder = await startRemoteResponder(nc, config, pub, say);
  return {
    async stop() {
      await remote.stop();
      messages.stop();
      await loop.catch(() => undefined);
      await tail.stop();
      await chain.catch(() => undefined);
      await pub.close();
    },
  };
}

interface ApplyCtx {
  config: VigilConfig;
  pub: Publisher;
  say: (m: string) => void;
  waits: Map<string, (e: VigilEvent) => void>;
  supervisorPid(): number | undefined;
}

/** A deployment from the inbox: judged against the local config; refused with an event, or applied. */
async function receive(ctx: ApplyCtx, signed: unknown): Promise<void> {
  const { config, pub, say } = ctx;
  const f = config.fleet!;
  const state = readState(config.dataDir);
  const v = verifyDeployment(signed, { device: config.device, labels: config.labels, trust: f.trust, pinned: f.pinned, acceptDeployments: f.acceptDeployments, lastVersion: state.lastVersion });
  if (!v.ok) {
    if (v.code === "not-targeted") return; // a label selector sent to every device: not ours, nothing to say
    say(`deployment${v.version !== undefined ? ` ${v.version}` : ""} REFUSED: ${v.reason}`);
    const key = (signed as { key?: unknown } | undefined)?.key;
    await pub.emit("dec.deployment.refused", { code: v.code, reason: v.reason, ...(v.version !== undefined ? { version: v.version } : {}), ...(typeof key === "string" ? { key: key.slice(0, 128) } : {}) });
    return;
  }
  const d = v.deployment;
  await pub.emit("dec.deployment.received", { version: d.version, key: v.key, workers: d.workers.map((w) => w.name), containers: d.containers.map((c) => c.name), healthWindowSeconds: d.healthWindowSeconds });
  // The decider's health window watches every workload the deployment declares: a deployed container that crashes rolls it back too.
  const workers = [...d.workers, ...d.containers].map((w) => w.name);
  const files = deployFiles(config.dataDir);
  writeSynced(files.desired, JSON.stringify(signed));
  writeState(config.dataDir, { ...state, lastVersion: d.version, current: { version: d.version, workers, healthWindowSeconds: d.healthWindowSeconds, healthy: false } });
  const change = `deploy-${d.version}-${randomUUID().slice(0, 8)}`;
  await pub.emit("dec.deployment.applying", { version: d.version, change, workers });
  say(`deployment ${d.version}: applying (workers ${d.workers.map((w) => w.name).join(", ") || "none"}${d.containers.length ? `; containers ${d.containers.map((c) => c.name).join(", ")}` : ""})`);
  const applied = await reload(ctx, change);
  await pub.emit("out.deployment.applied", { version: d.version, change, workers, healthWindowSeconds: d.healthWindowSeconds, failed: applied?.failed ?? 0 });
}

/** Asks the supervisor for a reload (the request file + SIGHUP, as `vigil reload` does) and waits for its out.config.applied. */
async function reload(ctx: ApplyCtx, change: string): Promise<{ failed: number } | undefined> {
  const deadline = Date.now() + APPLY_TIMEOUT_MS;
  while (ctx.supervisorPid() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const pid = ctx.supervisorPid();
  if (pid === undefined) throw new Error("the supervisor is not running (no heartbeat): the deployment waits in desired.json for its next start");
  const done = new Promise<VigilEvent>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the supervisor did not apply change ${change} in ${APPLY_TIMEOUT_MS / 1000} s`)), APPLY_TIMEOUT_MS);
    ctx.waits.set(change, (e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
  writeSynced(join(ctx.config.dataDir, "reload-request.json"), JSON.stringify({ change }));
  process.kill(pid, "SIGHUP");
  try {
    const e = await done;
    return is(e, "out.config.applied") ? { failed: e.data.failed } : undefined;
  } finally {
    ctx.waits.delete(change);
  }
}

/** The decider called the current version healthy: it becomes the one a later rollback restores. */
function promote(ctx: ApplyCtx, version: number): void {
  const { dataDir } = ctx.config;
  const s = readState(dataDir);
  if (s.current?.version !== version) return;
  const files = deployFiles(dataDir);
  if (existsSync(files.desired)) writeSynced(files.good, readFileSync(files.desired, "utf8"));
  writeState(dataDir, { ...s, good: version, current: { ...s.current, healthy: true } });
  ctx.say(`deployment ${version}: healthy, kept as the last good one`);
}

/** The decider's rollback: the last good deployment (or the local config alone) runs again, under the incident. */
async function rollback(ctx: ApplyCtx, cmd: VigilEvent): Promise<void> {
  if (!is(cmd, "cmd.deployment.rollback")) return;
  const { dataDir } = ctx.config;
  const s = readState(dataDir);
  const from = cmd.data.version;
  if (s.current?.version !== from || s.current.healthy) return; // already rolled back, or superseded
  const files = deployFiles(dataDir);
  const good = readJson<{ body?: { workers?: Array<{ name: string }>; containers?: Array<{ name: string }>; healthWindowSeconds?: number } }>(files.good);
  if (good) writeSynced(files.desired, readFileSync(files.good, "utf8"));
  else removeSynced(files.desired);
  const to = good ? (s.good ?? 0) : 0;
  const workers = [...(good?.body?.workers ?? []), ...(good?.body?.containers ?? [])].map((w) => w.name);
  const meta: EventMeta = { incident: cmd.incident, causation: cmd.id, correlation: cmd.incident };
  const change = `rollback-${from}-${randomUUID().slice(0, 8)}`;
  const next: DeployState = { ...s, current: to ? { version: to, workers, healthWindowSeconds: good?.body?.healthWindowSeconds ?? 30, healthy: true } : undefined };
  writeState(dataDir, next);
  await ctx.pub.emit("dec.deployment.applying", { version: to, change, workers, rollback: true }, meta);
  ctx.say(`deployment ${from}: ROLLING BACK to ${to ? `version ${to}` : "the local config"}: ${cmd.data.reason}`);
  const applied = await reload(ctx, change);
  await ctx.pub.emit("dec.deployment.rolled-back", { from, to, reason: cmd.data.reason, change }, meta);
  await ctx.pub.emit("out.deployment.applied", { version: to, change, workers, healthWindowSeconds: 0, failed: applied?.failed ?? 0, rollback: true, from }, meta);
}
