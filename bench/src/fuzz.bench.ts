#!/usr/bin/env node
/**
 * Fuzzing against the real system (issue 7, item 5). One run, reproducible by its seed:
 *
 *  1. `vigil up -q` on a real nats-server (all services as child processes, as users run them), then
 *     - WebSocket frames and HTTP requests at the gateway (fuzz-ws.ts, fuzz-http.ts), while a
 *       well-behaved console client keeps receiving live events, checked one by one;
 *     - random and malformed payloads on the bus (fuzz-bus.ts), accounted per durable consumer;
 *     - at the end: every service still the same process, and still healing (kill -9 of a worker → restarted).
 *  2. Mutated config files (fuzz-config.ts): in-process through loadConfig, and a sample through `vigil up`.
 *
 * Writes results/fuzz.json and results/fuzz.md (or to --out DIR). Exit 1 when a check fails.
 *
 *   node dist/fuzz.bench.js [--seed N] [--per-surface N (10000)] [--configs N (1000)] [--up-sample N (50)] [--out DIR]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { BUS_SERVICES, encodeEvent, ensureStream, gatewayInfoFile, hashToken, makeEvent, parseConfig } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import WebSocket from "ws";
import { stringify } from "yaml";
import { fuzzBus } from "./fuzz-bus.js";
import { fuzzConfig, runUp } from "./fuzz-config.js";
import { fuzzHttp } from "./fuzz-http.js";
import { createRng, seedFrom } from "./fuzz-rng.js";
import { fuzzWebSocket } from "./fuzz-ws.js";
import { integerOption, optionText } from "./lib/options.js";

import { bugStatuses } from "./fuzz-bugs.js";
const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = resolve(HERE, "..");
const REPO = resolve(BENCH_DIR, "..");
const VIGIL_MAIN = join(REPO, "packages", "vigil", "dist", "main.js");
const DEVICE = "fz-001";
const OPERATOR = "fuzz-operator-token-0123456789abcdef";
const VIEWER = "fuzz-viewer-token-0123456789abcdef";
const CLIENT = "fuzz-watcher-token-0123456789abcdef";
// Every service vigil up runs (each has its own bus user).
const SERVICES: readonly string[] = BUS_SERVICES;
/** The durable consumers and their filters (docs/events.md); telemetry has none while it is idle (no telemetry.url). */
const CONSUMERS = { supervisor: `vigil.${DEVICE}.cmd.>`, decider: `vigil.${DEVICE}.>`, netmon: `vigil.${DEVICE}.cmd.net.>` };

const progress = (msg: string) => process.stderr.write(`fuzz: ${msg}\n`);
const num = (name: string, dflt: number) => integerOption(name, undefined, dflt);
const outArg = optionText("out", undefined);
const OUT_DIR = outArg !== undefined ? resolve(outArg) : join(BENCH_DIR, "results");
const PER_SURFACE = num("per-surface", 10_000);
const CONFIGS = num("configs", 1_000);
const UP_SAMPLE = num("up-sample", 50);
const UP_VALID = num("up-valid", 3);
const SEED = seedFrom(process.argv, process.env);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function invalidCounter(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${VIEWER}` } });
  const m = /^vigil_invalid_events_total(?:\{\})? (\d+)/m.exec(await res.text());
  return Number(m?.[1] ?? NaN);
}

async function main(): Promise<number> {
  const t0 = Date.now();
  progress(`seed ${SEED} (repeat with --seed ${SEED}); ${PER_SURFACE} inputs per surface, ${CONFIGS} configs, ${UP_SAMPLE} through vigil up`);
  const dir = mkdtempSync(join(tmpdir(), "vigil-fuzz-"));
  const srv = await startNatsServer();
  const configFile = join(dir, "vigil.yaml");
  writeFileSync(
    configFile,
    stringify({
      device: DEVICE,
      dataDir: "data",
      log: { level: "warn" },
      supervisor: { heartbeatMs: 2_000 },
      gateway: {
        port: 0,
        tokens: [
          { name: "fuzz-operator", role: "operator", sha256: hashToken(OPERATOR) },
          { name: "fuzz-viewer", role: "viewer", sha256: hashToken(VIEWER) },
          { name: "fuzz-watcher", role: "viewer", sha256: hashToken(CLIENT) },
        ],
      },
      workers: [{ name: "sensor", command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"], restart: { stableMs: 1_000 } }],
    }),
  );
  const up = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configFile], {
    env: { ...process.env, VIGIL_NATS_URL: srv.url, VIGIL_SINK: "off", VIGIL_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let upOut = "";
  up.stdout.on("data", (d) => (upOut += d));
  up.stderr.on("data", (d) => (upOut += d));
  const nc = await connect({ servers: srv.url });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureStream(jsm, parseConfig({}, { env: {} }).stream);
  const log = await watchEvents(nc, { filter: `vigil.${DEVICE}.sys.service.*.started` });
  const workerLog = await watchEvents(nc, { filter: `vigil.${DEVICE}.*.worker.>` });
  const js = jetstream(nc);
  let live: WebSocket | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  const checks: Record<string, boolean> = {};
  let results: Record<string, unknown> = {};
  try {
    await until("vigil up to say it is running", () => upOut.includes("vigil: running") || undefined, 30_000);
    const started = await log.waitForCount("every service started", () => true, SERVICES.length, 30_000);
    const pids = Object.fromEntries(started.map((e) => [(e.data as { service: string }).service, (e.data as { pid: number }).pid]));
    const info = await until("gateway.json", () => (existsSync(gatewayInfoFile(join(dir, "data"))) ? (JSON.parse(readFileSync(gatewayInfoFile(join(dir, "data")), "utf8")) as { url: string; port: number }) : undefined));
    await until("the durable consumers", async () => (await Promise.all(Object.keys(CONSUMERS).map((c) => jsm.consumers.info("VIGIL", c).then(() => true, () => false)))).every(Boolean) || undefined);
    const sensor = await workerLog.waitFor("the sensor's start", (e) => e.type === "io.vigil.obs.worker.started");
    progress(`system up in ${Date.now() - t0} ms: gateway ${info.url}, services ${JSON.stringify(pids)}`);

    // The well-behaved client: subscribed live to the probe's events, which arrive every 100 ms throughout.
    const probeIds: Array<{ id: string; at: number }> = [];
    const received = new Map<string, number>();
    let lagged = 0;
    let subscribed = false;
    live = new WebSocket(`ws://127.0.0.1:${info.port}/ws`, { headers: { Authorization: `Bearer ${CLIENT}` } });
    live.on("message", (d) => {
      const m = JSON.parse(d.toString()) as { type: string; events?: Array<{ id: string; data: { service: string } }> };
      if (m.type === "lagged") lagged++;
      if (m.type === "subscribed") subscribed = true;
      for (const e of m.events ?? []) if (e.data.service === "fuzz-probe") received.set(e.id, Date.now());
    });
    await new Promise<void>((r, j) => {
      live!.once("open", () => r());
      live!.once("error", j);
    });
    live.send(JSON.stringify({ id: "live", op: "subscribe", filters: [`vigil.${DEVICE}.sys.service.*.heartbeat`] }));
    await until("the live subscription", () => subscribed || undefined, 10_000);
    let beat = 0;
    probeTimer = setInterval(() => {
      const e = makeEvent(DEVICE, `vigil/${DEVICE}/fuzz-probe`, "sys.service.heartbeat", { service: "fuzz-probe", pid: process.pid, uptimeMs: ++beat, rssBytes: 1 });
      const at = Date.now();
      // Counted once stored: a publish that timed out under load is not the gateway's to deliver.
      js.publish(e.subject, encodeEvent(e), { msgID: e.id }).then(
        () => probeIds.push({ id: e.id, at }),
        () => undefined,
      );
    }, 100);

    const invalidBefore = await invalidCounter(info.url);
    const tokens = { operator: OPERATOR, viewer: VIEWER };
    const tw = Date.now();
    const [ws, http] = await Promise.all([
      fuzzWebSocket({ port: info.port, count: PER_SURFACE, parallel: 4, rng: createRng(SEED + 1), tokens }),
      fuzzHttp({ port: info.port, count: PER_SURFACE, parallel: 6, rng: createRng(SEED + 2), tokens }),
    ]);
    progress(`websocket: ${ws.inputs} inputs (${ws.frames} frames, ${ws.connections} connections), ${ws.violations} violations; http: ${http.inputs} requests, ${http.violations} violations — ${Date.now() - tw} ms`);

    const bus = await fuzzBus(nc, { device: DEVICE, stream: "VIGIL", count: PER_SURFACE, rng: createRng(SEED), consumers: CONSUMERS, progress });
    progress(`bus: ${bus.published} published, ${bus.invalid} invalid, ${bus.deadLettered} dead-lettered, ${bus.rejected} rejected, ${bus.unaccounted} unaccounted`);
    const invalidAfter = await until("the gateway to count the invalid payloads", async () => {
      const n = await invalidCounter(info.url);
      return n - invalidBefore >= bus.invalid ? n : undefined;
    }, 60_000).catch(() => NaN);

    // The live client: every probe event published after it subscribed, none missing, none late.
    clearInterval(probeTimer);
    const lastProbe = probeIds.at(-1)?.id;
    await until("the last probe event at the live client", () => (lastProbe && received.has(lastProbe)) || undefined, 10_000).catch(() => undefined);
    const missing = probeIds.filter((p) => !received.has(p.id)).length;
    const delays = probeIds.filter((p) => received.has(p.id)).map((p) => received.get(p.id)! - p.at).sort((a, b) => a - b);
    const liveResult = { published: probeIds.length, received: probeIds.length - missing, missing, lagged, p50DelayMs: delays[Math.floor(delays.length / 2)] ?? null, maxDelayMs: delays.at(-1) ?? null };
    progress(`live client: ${liveResult.received}/${liveResult.published} probe events, max delay ${liveResult.maxDelayMs} ms`);

    // Every service is the process it was at the start (vigil up restarts a dead one: it would show as a second start).
    const servicesAlive = Object.fromEntries(SERVICES.map((s) => [s, pids[s] !== undefined && alive(pids[s]!)]));
    const startCounts = Object.fromEntries(SERVICES.map((s) => [s, log.events.filter((e) => (e.data as { service: string }).service === s).length]));
    const died = (upOut.match(/service \S+ died[^\n]*/g) ?? []).slice(0, 10);
    const serviceCrashes = died.length + Object.values(servicesAlive).filter((a) => !a).length;

    // Still healing: kill -9 the worker, it comes back with a new pid.
    const oldPid = (sensor.data as { pid: number }).pid;
    process.kill(oldPid, "SIGKILL");
    const tk = Date.now();
    const back = await workerLog
      .waitFor("the sensor restarted after kill -9", (e) => e.type === "io.vigil.out.worker.restarted" && (e.data as { pid?: number }).pid !== oldPid, 30_000)
      .then((e) => ({ restarted: true, newPid: (e.data as { pid?: number }).pid, ms: Date.now() - tk }))
      .catch((err) => ({ restarted: false, error: (err as Error).message.slice(0, 300) }));
    progress(`healing: ${JSON.stringify(back)}`);

    checks["bus: every invalid item dead-lettered once, every undeclared command rejected once"] = bus.unaccounted === 0 && bus.published === bus.inputs;
    checks["bus: the gateway counted every invalid payload (vigil_invalid_events_total)"] = invalidAfter - invalidBefore === bus.invalid;
    checks["no service process crashed or was restarted"] = serviceCrashes === 0 && Object.values(startCounts).every((n) => n === 1);
    checks["still healing: a worker killed with -9 was restarted"] = back.restarted;
    checks["websocket: every input got its documented error, answer or close"] = ws.violations === 0;
    checks["http: every bad request got a 4xx with a JSON error, nothing a 5xx"] = http.violations === 0 && http.serverErrors === 0;
    checks["the well-behaved client received every live event"] = missing === 0 && liveResult.published > 0;
    results = {
      bus: { inputs: bus.inputs, published: bus.published, invalid: bus.invalid, dead_lettered: bus.deadLettered, rejected: bus.rejected, unaccounted: bus.unaccounted, gateway_invalid_counted: invalidAfter - invalidBefore, drain_ms: bus.drainMs, consumers: bus.consumers, categories: bus.categories, not_published: bus.notPublished, oracle_disagreements: bus.oracleDisagreements, dead_letter_reasons: bus.reasons },
      websocket: { deviations: ws.deviations, inputs: ws.inputs, frames: ws.frames, connections: ws.connections, errors: ws.errors, closes: ws.closes, answers: ws.answers, upgrades_refused: ws.upgradesRefused, violations: ws.violations, violations_by_category: ws.violationsByCategory, violation_examples: ws.violationExamples, categories: ws.categories },
      http: { deviations: http.deviations, keep_alive_probes: http.keepAliveProbes, inputs: http.inputs, status_counts: http.statusCounts, json_errors: http.jsonErrors, server_errors: http.serverErrors, violations: http.violations, violations_by_category: http.violationsByCategory, violation_examples: http.violationExamples, categories: http.categories },
      live_client: liveResult,
      services: { pids, alive: servicesAlive, starts: startCounts, died, healing: back },
      service_crashes: serviceCrashes,
    };
  } finally {
    clearInterval(probeTimer);
    live?.terminate();
    await log.close();
    await workerLog.close();
    const code = await new Promise<number | null>((r) => {
      if (up.exitCode !== null) return r(up.exitCode);
      up.once("exit", (c) => r(c));
      up.kill("SIGTERM");
    });
    checks["vigil up stopped cleanly (exit 0)"] = code === 0;
    await nc.close();
    await srv.cleanup();
  }

  // Config files: in-process, then a sample through vigil up (on a server of its own).
  const srv2 = await startNatsServer();
  let config;
  const sigtermRace: string[] = [];
  try {
    const cfgDir = join(dir, "configs");
    config = await fuzzConfig({
      dir: cfgDir,
      count: CONFIGS,
      upSample: UP_SAMPLE,
      upValid: UP_VALID,
      rng: createRng(SEED + 3),
      vigilMain: VIGIL_MAIN,
      upEnv: (i) => ({ VIGIL_NATS_URL: srv2.url, VIGIL_DATA_DIR: join(cfgDir, `up-${i}`), VIGIL_GATEWAY_PORT: "0", VIGIL_SINK: "off" }),
      progress,
    });
    // The SIGTERM race: vigil up prints "running" just before it installs its handlers; a SIGTERM at that moment kills it unhandled.
    const raceFile = join(cfgDir, "race.yaml");
    writeFileSync(raceFile, "device: race-001\n");
    for (let i = 0; i < 3; i++) {
      const res = await runUp(VIGIL_MAIN, raceFile, { VIGIL_NATS_URL: srv2.url, VIGIL_DATA_DIR: join(cfgDir, `race-${i}`), VIGIL_GATEWAY_PORT: "0", VIGIL_SINK: "off" }, 60_000, 0);
      sigtermRace.push(res.stopCode === 0 ? "stopped cleanly (exit 0)" : `not stopped cleanly: exit ${res.stopCode ?? "by signal"}`);
    }
  } finally {
    await srv2.cleanup();
  }
  progress(`config: ${config.inputs} mutations, ${config.rejected} rejected, ${config.accepted_valid} accepted, ${config.crashes} loader crashes; vigil up: ${config.vigilUp.runs} runs, ${config.vigilUp.exit2} exit 2, ${config.vigilUp.startedValid} valid started, ${config.vigilUp.violations} violations`);
  checks["config: loadConfig never throws anything but a ConfigError"] = config.crashes === 0;
  checks["config: every rejection names the file and no stack trace"] = config.unclearMessages === 0;
  checks["config: vigil up exits 2 with a message on every bad config, starts on valid ones"] = config.vigilUp.violations === 0 && config.vigilUp.runs >= Math.min(UP_SAMPLE, config.rejected);

  const crashes = (results.service_crashes as number) + config.crashes;
  const report = {
    seed: SEED,
    duration_s: Math.round((Date.now() - t0) / 1000),
    ...results,
    config: { inputs: config.inputs, rejected: config.rejected, accepted_valid: config.accepted_valid, loader_crashes: config.crashes, crash_examples: config.crashExamples, unclear_messages: config.unclearMessages, categories: config.categories, vigil_up: { runs: config.vigilUp.runs, exit2: config.vigilUp.exit2, started_valid: config.vigilUp.startedValid, violations: config.vigilUp.violations, violation_examples: config.vigilUp.violationExamples, sample_messages: config.vigilUp.sampleMessages } },
    sigterm_right_after_running: sigtermRace,
    crashes,
    checks,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, "fuzz.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileSync(join(OUT_DIR, "fuzz.md"), markdown(report));
  rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of Object.entries(checks)) progress(`${v ? "ok  " : "FAIL"} ${k}`);
  progress(`crashes ${crashes}; ${Math.round((Date.now() - t0) / 1000)} s; wrote ${join(OUT_DIR, "fuzz.json")} and fuzz.md`);
  return Object.values(checks).every(Boolean) && crashes === 0 ? 0 : 1;
}

function markdown(r: any): string {
  const kv = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ");
  const consumers = Object.entries(r.bus.consumers as Record<string, any>)
    .map(([n, c]) => `| ${n} | \`${c.filter}\` | ${c.received} | ${c.invalid} | ${c.deadLettered} | ${c.toReject} | ${c.rejected} | ${c.unaccounted} |`)
    .join("\n");
  return `# Fuzzing (issue 7, item 5)

Seed **${r.seed}** (\`node bench/dist/fuzz.bench.js --seed ${r.seed}\` repeats these exact inputs), ${r.duration_s} s.
The real system: \`vigil up -q\` on a real nats-server 2.9 (every service a child process), the harness in
bench/src/fuzz-*.ts (docs/fuzzing.md). **Crashes: ${r.crashes}.**

## Checks

${Object.entries(r.checks as Record<string, boolean>).map(([k, v]) => `- ${v ? "✅" : "❌"} ${k}`).join("\n")}

## Bus: ${r.bus.inputs} payloads on \`vigil.${DEVICE}.>\`

Categories: ${kv(r.bus.categories)}.

${r.bus.invalid} invalid, ${r.bus.dead_lettered} dead letters, ${r.bus.rejected} rejections, **${r.bus.unaccounted} unaccounted**;
the gateway counted ${r.bus.gateway_invalid_counted} invalid payloads (\`vigil_invalid_events_total\`). Consumers drained ${r.bus.drain_ms} ms after publishing began.

| consumer | filter | received | invalid | dead-lettered | undeclared commands | rejected | unaccounted |
| --- | --- | --- | --- | --- | --- | --- | --- |
${consumers}

Generator intent and codec verdict disagreed on ${r.bus.oracle_disagreements.length} item(s).
Most frequent dead-letter reasons: ${Object.entries(r.bus.dead_letter_reasons as Record<string, number>).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `\`${k}\` ×${v}`).join(" · ")}.

## WebSocket: ${r.websocket.inputs} inputs (${r.websocket.frames} frames over ${r.websocket.connections} connections)

Errors: ${kv(r.websocket.errors)}. Closes: ${kv(r.websocket.closes)}. Answers: ${kv(r.websocket.answers)}. Refused upgrades: ${kv(r.websocket.upgrades_refused)}.
Violations: **${r.websocket.violations}**${r.websocket.violations ? ` (${kv(r.websocket.violations_by_category)}):\n\n${r.websocket.violation_examples.map((x: string) => `- ${x}`).join("\n")}` : ""}.

## HTTP: ${r.http.inputs} requests

Statuses: ${kv(r.http.status_counts)}; ${r.http.json_errors} JSON error bodies, ${r.http.server_errors} 5xx.
Violations: **${r.http.violations}**${r.http.violations ? ` (${kv(r.http.violations_by_category)}):\n\n${r.http.violation_examples.map((x: string) => `- ${x}`).join("\n")}` : ""}.

## The well-behaved client and the services

Live probe events: ${r.live_client.received}/${r.live_client.published} received (median delay ${r.live_client.p50DelayMs} ms, max ${r.live_client.maxDelayMs} ms, lagged ${r.live_client.lagged}).
Service starts: ${kv(r.services.starts)}; healing after kill -9: ${JSON.stringify(r.services.healing)}.

## Bugs found

${bugStatuses(r).join("\n")}

## Deviations from the documented behaviour (reported, not failed on)

${[...Object.entries(r.websocket.deviations as Record<string, number>).map(([k, v]) => `- WebSocket: ${k} (×${v})`), ...Object.entries(r.http.deviations as Record<string, number>).map(([k, v]) => `- HTTP: ${k} (×${v})`)].join("\n") || "none"}

Keep-alive probes (a request the gateway answers without reading all of its body, then \`GET /healthz\` on the same connection):
${Object.entries(r.http.keep_alive_probes as Record<string, string>).map(([k, v]) => `- ${k}: ${v}`).join("\n")}

## Config: ${r.config.inputs} mutations

${r.config.rejected} rejected (ConfigError), ${r.config.accepted_valid} accepted (valid after all, each re-parsed), ${r.config.loader_crashes} loader crashes${r.config.crash_examples.length ? `:\n\n${r.config.crash_examples.map((x: string) => `- ${x}`).join("\n")}\n` : "."}
Per category (rejected/accepted/crash): ${Object.entries(r.config.categories as Record<string, any>).map(([k, v]) => `${k} ${v.rejected}/${v.accepted}/${v.crash}`).join(", ")}.

\`vigil up\`: ${r.config.vigil_up.runs} runs, ${r.config.vigil_up.exit2} exited 2 with "invalid configuration", ${r.config.vigil_up.started_valid} valid ones started and stopped with 0, ${r.config.vigil_up.violations} violations${r.config.vigil_up.violation_examples.length ? `:\n\n${r.config.vigil_up.violation_examples.map((x: string) => `- ${x}`).join("\n")}\n` : "."}
Sample messages: ${r.config.vigil_up.sample_messages.map((x: string) => `\`${x.replace(/`/g, "'")}\``).join(" · ")}
`;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fuzz: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
