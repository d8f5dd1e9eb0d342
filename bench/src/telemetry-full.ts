/**
 * The telemetry drain in the full system, as a user runs it: `vigil up` as shipped (embedded
 * nats-server with per-service bus users, every service, telemetry forwarding to the local sink
 * `vigil up` starts). The sink is told to answer 503 to every batch; a backlog is published on the
 * bus while the decider (and every other consumer) keeps up; then the cloud comes back. Rate from the
 * sink's first 2xx after the outage to the last published id's first delivery, against a bare ordered
 * read of the same events in the same stream just before and just after (the mean); lost, stored
 * duplicates and wire re-sends from the sink's store and delivery log, id by id.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { CLOUDEVENTS_CONTENT_TYPE, connectBus, encodeEvent, makeEvent, parseConfig } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import type { DeliverySnapshot } from "@vigil/sink";
import { checkDeliveries, drainRateFromFirst2xx, type DeliveryCheck } from "./delivery-check.js";
import { cpuPerEvent, treeCpuSeconds } from "./telemetry-proc.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const VIGIL_MAIN = join(resolve(HERE, "..", ".."), "packages", "vigil", "dist", "main.js");
const DEVICE = "bench-full";

export interface FullSystemDrain {
  events: number;
  drain_events_per_s: number;
  drain_seconds: number;
  /**
   * The baseline (equal work): a bare ordered read of the same events from the same stream of the same
   * `vigil up`, just before the cloud comes back and just after the drain; the mean of the two.
   */
  raw_read_events_per_s: number;
  raw_read_before_drain_events_per_s: number;
  raw_read_after_drain_events_per_s: number;
  /** Batches the sink refused with 503 while the backlog was built. */
  faulted_requests: number;
  /** From clearing the fault to the sink's first 2xx (telemetry's backoff / breaker probe). */
  first_2xx_after_clear_s: number;
  /** How long the consumers other than telemetry took to have nothing pending after the last publish. */
  consumers_caught_up_s: number;
  check: DeliveryCheck;
  /**
   * CPU per event of each process under `vigil up` (and `vigil up` itself), from the sink's first 2xx
   * after the outage to its having stored every event: where the full system's drain spends its time.
   */
  cpu_us_per_event: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sinkCall<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, { method, ...(body ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}) });
  if (!res.ok) throw new Error(`sink ${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Starts `vigil up` and resolves once it says "running". */
function startUp(configPath: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configPath], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil up did not say "running" within 60 s:\n${out.slice(-2000)}`)), 60_000);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-100_000);
      if (out.includes("vigil: running")) {
        clearTimeout(timer);
        resolvePromise({ child, output: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`vigil up exited with ${code}:\n${out.slice(-2000)}`)));
  });
}

async function publishBacklog(nc: NatsConnection, count: number): Promise<{ ids: string[]; subject: string }> {
  const js = jetstream(nc);
  const h = headers();
  h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
  const ids: string[] = [];
  let subject = "";
  let inflight: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const e = makeEvent(DEVICE, `vigil/${DEVICE}/supervisor`, "obs.worker.stable", { worker: "sensor", pid: 4242, uptimeMs: i });
    ids.push(e.id);
    subject = e.subject;
    inflight.push(js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout: 30_000 }));
    if (inflight.length >= 256) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
  return { ids, subject };
}

/** Waits until every consumer of the stream except telemetry's has nothing pending (the decider kept up). */
async function consumersCaughtUp(nc: NatsConnection, stream: string, telemetryDurable: string, timeoutMs = 600_000): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const t0 = performance.now();
  for (;;) {
    const behind: string[] = [];
    for await (const c of jsm.consumers.list(stream)) {
      if (c.name === telemetryDurable) continue;
      if (c.num_pending + c.num_ack_pending > 0) behind.push(`${c.name} ${c.num_pending}+${c.num_ack_pending}`);
    }
    const s = (performance.now() - t0) / 1000;
    if (behind.length === 0) return s;
    if (s * 1000 > timeoutMs) throw new Error(`consumers still behind after ${s.toFixed(0)} s: ${behind.join(", ")}`);
    await sleep(200);
  }
}

async function rawRead(nc: NatsConnection, stream: string, subject: string, count: number): Promise<number> {
  const c = await jetstream(nc).consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const t0 = performance.now();
  const msgs = await c.consume({ max_messages: 1000 });
  let n = 0;
  for await (const _m of msgs) if (++n >= count) break;
  const s = (performance.now() - t0) / 1000;
  msgs.stop();
  return count / s;
}

async function storedIds(base: string): Promise<string[]> {
  const out: string[] = [];
  for (let after = -1; ; ) {
    const page = await sinkCall<{ events: Array<{ index: number; event: { id: string } }> }>(base, "GET", `/events?after=${after}&limit=100000`);
    if (page.events.length === 0) return out;
    for (const e of page.events) out.push(e.event.id);
    after = page.events.at(-1)!.index;
  }
}

/**
 * Polls the sink until every published id was delivered; returns the delivery log then. `onStored`
 * runs once the sink counts them all, before the (large) delivery log is asked for.
 */
async function untilDelivered(base: string, ids: string[], storedBefore: number, onStored: () => void, timeoutMs = 600_000): Promise<DeliverySnapshot> {
  const t0 = performance.now();
  let told = false;
  for (;;) {
    const c = await sinkCall<{ stored: number }>(base, "GET", "/counts");
    if (c.stored - storedBefore >= ids.length) {
      if (!told) onStored();
      told = true;
      const log = await sinkCall<DeliverySnapshot>(base, "GET", "/deliveries");
      if (ids.every((id) => Object.hasOwn(log.ids, id))) return log;
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`the sink stored ${c.stored - storedBefore} of ${ids.length} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

export async function fullSystemDrain(o: { events: number; progress: (m: string) => void }): Promise<FullSystemDrain> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-bench-fullsys-"));
  const configPath = join(dir, "vigil.yaml");
  const dataDir = join(dir, "data");
  writeFileSync(configPath, stringify({ device: DEVICE, dataDir, workers: [{ name: "sensor", command: "sleep", args: ["3600"] }] }));
  const defaults = parseConfig({ device: DEVICE }, { env: {} });
  const sinkPort = await freePort();
  const base = `http://127.0.0.1:${sinkPort}`;
  const up = await startUp(configPath, { VIGIL_SINK_PORT: String(sinkPort), VIGIL_SINK_FAULTS: "1", VIGIL_SINK_DELIVERY_LOG: "1", VIGIL_GATEWAY_PORT: "0", VIGIL_DATA_DIR: dataDir });
  let nc: NatsConnection | undefined;
  try {
    const runtime = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as { natsUrl: string };
    const admin = JSON.parse(readFileSync(join(dataDir, "creds", "admin.json"), "utf8")) as { user: string; pass: string };
    nc = await connectBus({ url: runtime.natsUrl, user: admin.user, pass: admin.pass }, "bench-full");
    await sinkCall(base, "POST", "/faults", { errorRate: 1, status: 503 });
    const before = await sinkCall<{ stored: number; faulted: number }>(base, "GET", "/counts");
    o.progress(`full system: the sink answers 503; publishing ${o.events} events on the bus`);
    const { ids, subject } = await publishBacklog(nc, o.events);
    const caughtUp = await consumersCaughtUp(nc, defaults.stream.name, defaults.telemetry.durable);
    o.progress(`full system: every consumer but telemetry caught up ${caughtUp.toFixed(1)} s after the last publish; the cloud comes back`);
    const rawBefore = await rawRead(nc, defaults.stream.name, subject, o.events);
    await sinkCall(base, "DELETE", "/deliveries");
    const faulted = (await sinkCall<{ faulted: number }>(base, "GET", "/counts")).faulted - before.faulted;
    const batchesBefore = (await sinkCall<{ batches: number }>(base, "GET", "/counts")).batches;
    const clearedAt = Date.now();
    await sinkCall(base, "DELETE", "/faults");
    // The CPU figures start at the first accepted batch (seen within 20 ms), like the rate: the wait for
    // telemetry's next probe is not the drain's work.
    while ((await sinkCall<{ batches: number }>(base, "GET", "/counts")).batches === batchesBefore) await sleep(20);
    const cpuBefore = treeCpuSeconds(up.child.pid!);
    let cpuAfter = cpuBefore;
    const log = await untilDelivered(base, ids, before.stored, () => (cpuAfter = treeCpuSeconds(up.child.pid!)));
    const rate = drainRateFromFirst2xx(ids, log.ids, log.firstBatchAt!);
    const check = checkDeliveries(ids, await storedIds(base), log.ids);
    const rawAfter = await rawRead(nc, defaults.stream.name, subject, o.events);
    return {
      events: o.events,
      drain_events_per_s: rate.events_per_s,
      drain_seconds: rate.seconds,
      raw_read_events_per_s: Math.round((rawBefore + rawAfter) / 2),
      raw_read_before_drain_events_per_s: Math.round(rawBefore),
      raw_read_after_drain_events_per_s: Math.round(rawAfter),
      faulted_requests: faulted,
      first_2xx_after_clear_s: Math.round((log.firstBatchAt! - clearedAt) / 10) / 100,
      consumers_caught_up_s: Math.round(caughtUp * 10) / 10,
      check,
      cpu_us_per_event: cpuPerEvent(cpuBefore, cpuAfter, o.events),
    };
  } finally {
    await nc?.close().catch(() => undefined);
    const exited = new Promise((r) => up.child.once("exit", r));
    up.child.kill("SIGTERM");
    const killer = setTimeout(() => up.child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  }
}
