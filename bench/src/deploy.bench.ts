#!/usr/bin/env node
/**
 * Deployment benchmark (docs/fleet.md, issue 16). In one run, on loopback, with real nats-servers:
 * a hub (JetStream domain "hub", a leafnode listener, one hub user per device and an operator, as
 * `vigil fleet hub-auth` writes them) and 3 devices running `vigil up` as leaf nodes, each link logged
 * in as its device's own hub user (fleet.user / fleet.pass), the hub client as the operator.
 *
 *  1. Leaf round trip: a request from a hub client to `$JS.<device>.API.INFO`, answered by the device's
 *     server across the link (no Node in the path), half before the deployments and half after.
 *  2. Deploy: N deployments (default 50) to every device, each changing the worker `w` to
 *     `sleep <unique>`; time from the hub's publish on `deploy.<device>` until that process shows in
 *     /proc. The next one goes out once every device reported `dec.deployment.healthy`.
 *  3. Rollback: a version whose worker exits 3 after 0.5 s; time from its first crash
 *     (`obs.worker.exited`, event time) until the last good version's `sleep <unique>` runs again (/proc).
 *
 * Writes results/deploy.json and results/deploy.md.
 *   node dist/deploy.bench.js [--deployments N] [--devices D]   (or BENCH_DEPLOYMENTS, BENCH_DEPLOY_DEVICES)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { stringify } from "yaml";
import { connectBus, generateOperatorKey, is, signDocument } from "@vigil/events";
import { freePort, watchEvents, type EventLog } from "@vigil/events/testing";
// The deploy e2e tests' hub (not a test file): per-device hub users from fleet-hub-auth.ts, the same code as `vigil fleet hub-auth`.
import { startHub } from "@vigil/cli/dist/deploy-e2e-helpers.js";
import { exitWithUsageIfAsked, integerOption } from "./lib/options.js";
import { summarize } from "./lib/stats.js";

exitWithUsageIfAsked(`
usage: node bench/dist/deploy.bench.js [--deployments N] [--devices N]

  --deployments N   signed deployments rolled out (default 50; BENCH_DEPLOYMENTS)
  --devices N       devices (vigil up each) behind the hub (default 3; BENCH_DEPLOY_DEVICES)

Writes bench/results/deploy.json and deploy.md.
`);

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = join(resolve(HERE, ".."), "results");
const VIGIL_MAIN = join(resolve(HERE, "..", ".."), "packages", "vigil", "dist", "main.js");
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const DEPLOYMENTS = integerOption("deployments", "BENCH_DEPLOYMENTS", 50);
const DEVICES = integerOption("devices", "BENCH_DEPLOY_DEVICES", 3);
const ROUNDTRIPS = 200;
const TARGET_P50_MS = 1000;

interface Device {
  id: string;
  child: ChildProcess;
  nc: NatsConnection;
  events: EventLog;
}

/** `vigil up` with its embedded server as a leaf node of the hub, logged in as its own hub user, trusting `publicKey`. */
async function startDevice(id: string, leafPort: number, login: { user: string; pass: string }, publicKey: string): Promise<Device> {
  const dir = mkdtempSync(join(tmpdir(), `vigil-bench-deploy-${id}-`));
  const cfg = join(dir, "vigil.yaml");
  writeFileSync(cfg, stringify({
    device: id,
    dataDir: "data",
    gateway: { port: 0 },
    fleet: { hub: `nats-leaf://127.0.0.1:${leafPort}`, user: login.user, pass: login.pass, checkSeconds: 0.5, trust: [publicKey] },
    supervisor: { heartbeatMs: 500 },
    health: { intervalMs: 60_000, anomaly: { enabled: false } },
    workers: [{ name: "base", command: "sleep", args: ["600"] }],
  }));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, VIGIL_LOG_LEVEL: "warn", VIGIL_SINK: "off" };
  delete env.VIGIL_NATS_URL;
  const child = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", cfg, "--port", String(port)], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${id}: vigil up did not start in 90 s:\n${out}`)), 90_000);
    const on = (d: Buffer) => ((out += d), out.includes("vigil: running") && (clearTimeout(t), res()));
    child.stdout!.on("data", on);
    child.stderr!.on("data", on);
    child.once("exit", (code) => (clearTimeout(t), rej(new Error(`${id}: vigil up exited ${code}:\n${out}`))));
  });
  child.removeAllListeners("exit");
  const admin = JSON.parse(readFileSync(join(dir, "data", "creds", "admin.json"), "utf8")) as { user: string; pass: string };
  const nc = await connectBus({ url: `nats://127.0.0.1:${port}`, user: admin.user, pass: admin.pass }, `bench-${id}`);
  return { id, child, nc, events: await watchEvents(nc) };
}

/**
 * Watches /proc for a process whose command line is `sleep <arg>`. A pid is read again while young
 * (right after fork it still shows the parent's command line), then kept.
 */
function procWatch() {
  const known = new Map<number, { at: number; cmd: string }>();
  const scan = (): Map<string, number> => {
    const byCmd = new Map<string, number>();
    const t = Date.now();
    const live = new Set<number>();
    for (const name of readdirSync("/proc")) {
      const pid = Number(name);
      if (!Number.isInteger(pid)) continue;
      live.add(pid);
      let k = known.get(pid);
      if (!k || t - k.at < 1000) {
        let cmd = "";
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
        } catch {
          known.delete(pid);
          continue;
        }
        k = { at: k?.at ?? t, cmd };
        known.set(pid, k);
      }
      byCmd.set(k.cmd, pid);
    }
    for (const pid of known.keys()) if (!live.has(pid)) known.delete(pid); // a reused pid is read afresh
    return byCmd;
  };
  return {
    /** Resolves with the time (ms epoch) `sleep <arg>` is first seen running, polling every 2 ms. */
    waitFor: (arg: string, timeoutMs = 60_000) =>
      new Promise<number>((res, rej) => {
        const want = `sleep\0${arg}\0`;
        const t0 = Date.now();
        const tick = () => {
          if (scan().has(want)) return res(Date.now());
          if (Date.now() - t0 > timeoutMs) return rej(new Error(`sleep ${arg} did not run within ${timeoutMs} ms`));
          setTimeout(tick, 2);
        };
        tick();
      }),
  };
}

async function leafRoundTrips(hubNc: NatsConnection, devices: Device[], n: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = devices[i % devices.length]!;
    const t = performance.now();
    await hubNc.request(`$JS.${d.id}.API.INFO`, "", { timeout: 10_000 });
    xs.push(performance.now() - t);
  }
  return xs;
}

const argOf = (dev: number, version: number) => String(100_000 * (dev + 1) + version);

async function main(): Promise<void> {
  const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${i + 1}`);
  const hub = await startHub({ devices: ids });
  const key = generateOperatorKey();
  const load = loadSampler();
  const devices: Device[] = [];
  let hubNc: NatsConnection | undefined;
  try {
    // The hub's stream first (as `vigil fleet deploy` makes it): a device's source of a stream that does not exist yet is retried every few seconds, which would land on the first deployment.
    hubNc = await connectBus({ url: hub.url, ...hub.operator }, "bench-hub");
    const jsm = await jetstreamManager(hubNc);
    await jsm.streams.add({ name: "VIGIL_DEPLOY", subjects: ["deploy.>"], storage: StorageType.File, retention: RetentionPolicy.Limits, max_msgs_per_subject: 10, num_replicas: 1 });
    for (const id of ids) devices.push(await startDevice(id, hub.leafPort, hub.deviceLogins[id]!, key.publicKey));
    for (const d of devices) await d.events.waitFor(`${d.id} uplink`, (e) => is(e, "sys.fleet.uplink") && (e.data as { state: string }).state === "connected", 60_000);
    const js = jetstream(hubNc);
    const proc = procWatch();
    progress(`${DEVICES} devices connected; leaf round trips`);
    const rtt = await leafRoundTrips(hubNc, devices, ROUNDTRIPS / 2);

    const deployMs: number[] = [];
    const publish = (i: number, version: number, body: Record<string, unknown>) =>
      js.publish(`deploy.dev-${i + 1}`, JSON.stringify(signDocument({ version, target: { devices: [`dev-${i + 1}`] }, ...body }, key.privatePem)), { msgID: `deploy-dev-${i + 1}-${version}` });
    for (let v = 1; v <= DEPLOYMENTS; v++) {
      const t0 = Date.now();
      const seen = devices.map((_, i) => proc.waitFor(argOf(i, v)));
      await Promise.all(devices.map((_, i) => publish(i, v, { healthWindowSeconds: 1, workers: [{ name: "w", command: "sleep", args: [argOf(i, v)] }] })));
      for (const at of await Promise.all(seen)) deployMs.push(at - t0);
      for (const d of devices) await d.events.waitFor(`${d.id} healthy ${v}`, (e) => is(e, "dec.deployment.healthy") && (e.data as { version: number }).version === v, 60_000);
      if (v % 10 === 0) progress(`${v}/${DEPLOYMENTS} deployments; last ${deployMs.slice(-DEVICES).map((x) => x.toFixed(0)).join(", ")} ms`);
    }

    progress("rollback: a version whose worker crashes");
    const bad = DEPLOYMENTS + 1;
    const since = Date.now();
    await Promise.all(devices.map((_, i) => publish(i, bad, { healthWindowSeconds: 30, workers: [{ name: "crasher", command: "sh", args: ["-c", "sleep 0.5; exit 3"] }] })));
    // The bad version replaced the old `sleep` before its worker could crash, so once the crash is seen
    // the old process is gone until the rollback starts it again (each device watched at once).
    const rollbackMs = await Promise.all(
      devices.map(async (d, i) => {
        const crash = await d.events.waitFor(`${d.id} crasher exited`, (e) => is(e, "obs.worker.exited") && (e.data as { worker: string }).worker === "crasher" && Date.parse(e.time) >= since, 60_000);
        const at = await proc.waitFor(argOf(i, DEPLOYMENTS));
        await d.events.waitFor(`${d.id} rolled back`, (e) => is(e, "dec.deployment.rolled-back"), 60_000);
        return at - Date.parse(crash.time);
      }),
    );
    rtt.push(...(await leafRoundTrips(hubNc, devices, ROUNDTRIPS / 2)));
    report(deployMs, rollbackMs, rtt, load.stop());
  } finally {
    load.stop();
    for (const d of devices) {
      await d.events.close().catch(() => undefined);
      await d.nc.close().catch(() => undefined);
      d.child.kill("SIGTERM");
      await new Promise((r) => (d.child.exitCode !== null ? r(null) : d.child.once("exit", r)));
    }
    await hubNc?.close().catch(() => undefined);
    await hub.cleanup();
  }
}

interface LoadSummary {
  /** 1-minute load average at the start, at the end, and the min/max/mean of one sample every 5 s. */
  start: number;
  end: number;
  min: number;
  max: number;
  mean: number;
  samples: number;
}

/** The machine's load through the run (2 cores shared with other engineers' builds and tests): the figures are read against it. */
function loadSampler(): { stop(): LoadSummary } {
  const round = (x: number) => Math.round(x * 100) / 100;
  const xs = [loadavg()[0]!];
  const timer = setInterval(() => xs.push(loadavg()[0]!), 5_000);
  let summary: LoadSummary | undefined;
  return {
    stop: () => {
      if (summary) return summary;
      clearInterval(timer);
      xs.push(loadavg()[0]!);
      summary = { start: round(xs[0]!), end: round(xs.at(-1)!), min: round(Math.min(...xs)), max: round(Math.max(...xs)), mean: round(xs.reduce((t, x) => t + x, 0) / xs.length), samples: xs.length };
      return summary;
    },
  };
}

function report(deployMs: number[], rollbackMs: number[], rtt: number[], load: LoadSummary): void {
  const dep = summarize(deployMs, [50, 99], 1);
  const rb = summarize(rollbackMs, [50], 1);
  const leaf = summarize(rtt, [50, 99], 3);
  const result = {
    deploy_p50_ms: dep.p50,
    deploy_p99_ms: dep.p99,
    rollback_ms: rb.max,
    leaf_roundtrip_p50_ms: leaf.p50,
    target: { deploy_p50_ms: TARGET_P50_MS, met: dep.p50 <= TARGET_P50_MS },
    devices: DEVICES,
    hub_auth: "one hub user per device (fleet-hub-auth.ts, as `vigil fleet hub-auth` writes them); the hub client logs in as operator",
    deployments: DEPLOYMENTS,
    deploy: dep,
    rollback_each_ms: rollbackMs.map((x) => Math.round(x)),
    leaf_roundtrip: leaf,
    machine: { cpus: cpus().length, loadavg1: load, node: process.version },
    at: new Date().toISOString(),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, "deploy.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, "deploy.md"), [
    "# Deployments: hub publish → new worker running, rollback, beside the bare leaf round trip",
    "",
    `Run: \`node bench/dist/deploy.bench.js\` — a hub and ${DEVICES} \`vigil up\` devices as leaf nodes on loopback (real nats-server 2.9.10). The hub has one user per device and an operator (fleet-hub-auth.ts, the code behind \`vigil fleet hub-auth\`): each device's link logs in as its own user, whose permissions are that link's allow-list (docs/fleet.md, "One hub user per device"); the bench's hub client is the operator. ${DEPLOYMENTS} deployments to each device (${deployMs.length} samples). Nearest-rank percentiles.`,
    "",
    `Machine: ${cpus().length} cores shared with other work (other engineers' builds and tests); 1-minute load average ${load.start} at the start, ${load.end} at the end, ${load.min}–${load.max} (mean ${load.mean}) over ${load.samples} samples, one every 5 s. The figures are read against that load: on an idle machine they would be lower, and the tails most of all.`,
    "",
    "| measure | p50 | p99 | max | n |",
    "| --- | --- | --- | --- | --- |",
    `| deploy: hub publish on \`deploy.<device>\` → the new worker's process in /proc | ${dep.p50} ms | ${dep.p99} ms | ${dep.max} ms | ${dep.n} |`,
    `| rollback: first crash of a bad version (\`obs.worker.exited\`, event time) → the last good version's process in /proc | ${rb.p50} ms | – | ${rb.max} ms | ${rb.n} |`,
    `| bare leaf round trip (hub request → \`$JS.<device>.API.INFO\` answered by the device's server) | ${leaf.p50} ms | ${leaf.p99} ms | ${leaf.max} ms | ${leaf.n} |`,
    "",
    `Target deploy p50 ≤ ${TARGET_P50_MS} ms: **${result.target.met ? "met" : "NOT met"}** (${dep.p50} ms).`,
    "",
    "How each figure is computed:",
    "",
    `- **deploy** (\`deploy_p50_ms\`, \`deploy_p99_ms\`): for each version 1…${DEPLOYMENTS}, the bench takes the time, publishes one signed deployment per device on \`deploy.<device>\` of the hub's \`VIGIL_DEPLOY\` (through the hub's client port, all devices at once), and per device takes the time the new worker's process (\`sleep <a number unique to device and version>\`) is first seen in /proc (polled every 2 ms; a young pid's command line is read again, since right after fork it still shows the parent's). One sample per device and version: the publish is included. The next version goes out once every device reported \`dec.deployment.healthy\` for this one (health window 1 s), so deployments never overlap.`,
    `- **rollback** (\`rollback_ms\`: the slowest device's; each device's in \`rollback_each_ms\`): version ${DEPLOYMENTS + 1} replaces \`w\` by a worker that exits 3 after 0.5 s (health window 30 s). From the event time of that worker's first \`obs.worker.exited\` on the device to the time the last good version's \`sleep\` is seen again in /proc (the decider's rollback, the deployer restoring good.json, the supervisor's reload). \`dec.deployment.rolled-back\` is awaited too, so a restart that was not a rollback would not count.`,
    `- **leaf round trip** (\`leaf_roundtrip_p50_ms\`): ${ROUNDTRIPS} requests from the hub's client to \`$JS.<device>.API.INFO\`, round robin over the devices, one at a time, half before the deployments and half after the rollback: the hub's server carries it down the device's link, the device's server answers, no Node process in the path. It is the floor of the link itself (same run, same load, same per-device permissions).`,
    "",
    "The path a deployment takes (described, not profiled here): the device's source picks the message up across the link, the deployer verifies it (ed25519), writes desired.json (fsync + rename), emits received/applying, signals the supervisor (request file + SIGHUP), which re-verifies, plans and stops the old `w` before it starts the new one.",
    "",
  ].join("\n"));
  progress(`deploy p50 ${dep.p50} ms p99 ${dep.p99} ms; rollback ${rollbackMs.map((x) => x.toFixed(0)).join(", ")} ms; leaf rtt p50 ${leaf.p50} ms; load ${load.start}→${load.end} (max ${load.max})`);
}

main().catch((err) => {
  process.stderr.write(`bench deploy failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
