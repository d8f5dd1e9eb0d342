#!/usr/bin/env node
/**
 * `npm run chaos -- --minutes 10` (or CHAOS_MINUTES; CHAOS_SEED replays a run's fault schedule).
 *
 * Runs the whole system with `vigil up` — by default with its embedded nats-server and one bus user
 * per service, as a user runs it (`--bus external`: a nats-server without users that this harness
 * owns and holds down for a while) — and a local cloud sink it owns (so it can stop it and make it hang) — under a load of
 * 1,000 events/s and two workers that crash now and then, while a seeded schedule kills each service
 * and nats-server with SIGKILL, takes the sink away and makes it hang. At the end it stops the load,
 * lets telemetry drain, SIGTERMs `vigil up` and checks: every event of the stream reached the sink
 * exactly once (by id), every crashed worker came back, no service's memory grew past the margin, no
 * unexpected error in the logs, `vigil up` exited 0 and left no process behind.
 * Writes bench/results/chaos.json and chaos.md (docs/chaos.md explains the figures).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent, makeEvent } from "@vigil/events";
import { freePort, startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { checkDelivery, checkRecovery, classifyErrors, planFaults, prng, round1, rssGrowth, type FaultKind, type LogLine, type RssSeries, type StreamEntry } from "./chaos-checks.js";
import { allProcs, rssMb, stillAlive, vigilTree, type ProcInfo } from "./chaos-procs.js";
import { choiceOption, positiveNumber } from "./lib/options.js";
import { BENCH_DIR, DEVICE, HERE, RATE, readStream, REPO, RESULTS_DIR, scanLogs, SECRET, SERVICES, chaosSink, sleep, startLoad, VIGIL_MAIN, waitFor, WORKERS } from "./chaos-harness.js";
import { markdown } from "./chaos-report.js";

const RSS_MARGIN_PCT = Number(process.env.CHAOS_RSS_MARGIN_PCT ?? 50);
const SAMPLE_MS = 3_000;

const t0 = Date.now();
/** Undone on failure too: nothing this harness started may outlive it. */
const cleanups: Array<() => unknown> = [];
const since = () => Date.now() - t0;
const stamp = () => `${(since() / 1000).toFixed(1).padStart(6)} s`;
const progress = (msg: string) => process.stderr.write(`chaos ${stamp()}: ${msg}\n`);

const MINUTES = positiveNumber("minutes", "CHAOS_MINUTES", 10);
/** embedded: `vigil up` runs (and restarts) its own nats-server with a user per service; external: this harness owns one without users. */
const BUS = choiceOption("bus", "CHAOS_BUS", ["embedded", "external"], "embedded");
const SEED = Math.floor(positiveNumber("seed", "CHAOS_SEED", (Date.now() % 2 ** 31) + 1));
const DURATION_MS = Math.round(MINUTES * 60_000);


async function main(): Promise<void> {
  const rand = prng(SEED);
  const plan = planFaults(rand, SERVICES, DURATION_MS, Math.max(0, Math.round(MINUTES * 1.5) - 9));
  progress(`seed ${SEED} (replay with CHAOS_SEED=${SEED}); ${MINUTES} min; ${plan.length} faults planned`);
  const dir = mkdtempSync(join(tmpdir(), "vigil-chaos-"));
  const dataDir = join(dir, "data");
  const logDir = join(dataDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const crashScript = join(dir, "crashy.js");
  writeFileSync(crashScript, "// A workload that crashes now and then: exit 1 after 5–25 s.\nsetTimeout(() => process.exit(1), 5000 + Math.floor(Math.random() * 20000));\nprocess.on('SIGTERM', () => process.exit(0));\n");
  const configFile = join(dir, "vigil.yaml");
  writeFileSync(
    configFile,
    stringify({
      device: DEVICE,
      dataDir: "data",
      gateway: { port: 0 },
      // 10 min × 1,000 events/s ≈ 300 MB: the stream must keep all of it for the exactly-once check.
      stream: { maxBytes: 4 * 1024 * 1024 * 1024, maxAgeSeconds: 0 },
      telemetry: { downsample: {}, requestTimeoutMs: 5_000 },
      workers: WORKERS.map((name) => ({
        name,
        command: process.execPath,
        args: [crashScript],
        // Crashes every 5–25 s are ≤ 12 a minute: the breaker must not trip, so the limit is far above that.
        restart: { backoffBaseMs: 100, backoffFactor: 2, backoffCapMs: 2_000, maxRestarts: 1_000, windowMs: 60_000, stableMs: 3_000 },
      })),
    }),
  );

  const sink = chaosSink(await freePort(), join(dir, "sink"), join(dir, "sink.log"));
  await sink.start();
  cleanups.push(() => sink.stop());
  const external: TestNatsServer | undefined = BUS === "external" ? await startNatsServer({ storeDir: join(dir, "nats") }) : undefined;
  if (external) cleanups.push(() => external.stop());
  const busPort = external ? undefined : await freePort();
  const busUrl = external?.url ?? `nats://127.0.0.1:${busPort}`;
  progress(`bus ${BUS}: nats-server ${busUrl} (store ${external?.storeDir ?? join(dataDir, "nats")}), sink ${sink.base}, run dir ${dir}`);

  const upOut = join(dir, "vigil-up.out");
  const upEnv: NodeJS.ProcessEnv = { ...process.env, VIGIL_TELEMETRY_URL: `${sink.base}/v1/events`, VIGIL_TELEMETRY_SECRET: SECRET, VIGIL_LOG_LEVEL: "info" };
  if (external) upEnv.VIGIL_NATS_URL = external.url;
  else delete upEnv.VIGIL_NATS_URL;
  const up = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configFile, ...(busPort ? ["--port", String(busPort)] : [])], { env: upEnv, stdio: ["ignore", "pipe", "pipe"] });
  let upText = "";
  const onOut = (d: Buffer) => {
    upText += d.toString();
    appendFileSync(upOut, d);
  };
  up.stdout!.on("data", onOut);
  up.stderr!.on("data", onOut);
  cleanups.push(() => upExit === undefined && up.kill("SIGKILL"));
  let upExit: { code: number | null; signal: string | null } | undefined;
  up.once("exit", (code, signal) => (upExit = { code, signal }));
  await waitFor("vigil up to say it is running", () => upText.includes("vigil: running"), 90_000, 200);
  await waitFor("every service to be up", () => vigilTree(up.pid!, crashScript).services.size === SERVICES.length, 30_000, 500);
  // The harness's own clients: as admin on the embedded server (its password is in a 0600 file).
  const admin = external ? undefined : (JSON.parse(readFileSync(join(dataDir, "creds", "admin.json"), "utf8")) as { user: string; pass: string });
  const busOpts: ConnectionOptions = { servers: busUrl, ...(admin ? { user: admin.user, pass: admin.pass } : {}) };
  /** The embedded nats-server: vigil up's child with its data dir in the command line. */
  const embeddedServer = () => allProcs().find((p) => p.ppid === up.pid && p.state !== "Z" && p.cmdline[0]?.endsWith("nats-server") && p.cmdline.some((a) => a.startsWith(dataDir)));
  const killBus = async (holdMs: number): Promise<string> => {
    if (external) {
      await external.kill();
      await sleep(holdMs);
      await external.restart();
      return `down ${(holdMs / 1000).toFixed(1)} s`;
    }
    const old = embeddedServer();
    if (!old) return "not running: skipped";
    const restartsBefore = upText.split("nats-server restarted at").length;
    const at = Date.now();
    process.kill(old.pid, "SIGKILL");
    await waitFor("vigil up to restart nats-server", () => upText.split("nats-server restarted at").length > restartsBefore, 90_000, 100);
    return `restarted by vigil up after ${((Date.now() - at) / 1000).toFixed(1)} s`;
  };
  progress(`vigil up (pid ${up.pid}) running`);

  // RSS of every service incarnation, every few seconds, for the whole run.
  const series = new Map<string, RssSeries>();
  const seen = new Map<string, ProcInfo>();
  const sample = () => {
    const tree = vigilTree(up.pid!, crashScript);
    for (const [name, p] of tree.services) {
      const mb = rssMb(p.pid);
      const key = `${name}#${p.pid}:${p.start}`;
      seen.set(key, p);
      if (mb === undefined) continue;
      let s = series.get(key);
      if (!s) series.set(key, (s = { service: name, pid: p.pid, samples: [] }));
      s.samples.push([since(), round1(mb)]);
    }
    const upMb = rssMb(up.pid!);
    if (upMb !== undefined) {
      const key = `vigil-up#${up.pid}`;
      if (!series.has(key)) series.set(key, { service: "vigil up", pid: up.pid!, samples: [] });
      series.get(key)!.samples.push([since(), round1(upMb)]);
    }
    for (const w of tree.workers) seen.set(`worker#${w.pid}:${w.start}`, w);
    return tree;
  };
  const sampler = setInterval(sample, SAMPLE_MS);

  const loadNc = await connect({ ...busOpts, name: "chaos-load", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const load = startLoad(loadNc);
  const loadStart = Date.now();
  progress(`load: ${RATE} events/s of obs.demo.reading`);
  const report = setInterval(() => {
    const s = load.stats;
    progress(`load generated ${s.generated}, acked ${s.acked}, failed ${s.failed}, skipped ${s.skipped}, in flight ${s.inflight}`);
  }, 30_000);

  // The fault schedule.
  const timeline: Array<{ atS: number; fault: string; detail: string }> = [];
  const kills: Record<string, number> = {};
  let sinkOutages = 0;
  let sinkHangs = 0;
  const runFault = async (f: FaultKind, holdMs: number) => {
    const at = round1(since() / 1000);
    progress(`fault: ${f.kind}${f.kind === "kill-service" ? ` ${f.service}` : ""}${holdMs ? ` for ${(holdMs / 1000).toFixed(1)} s` : ""}`);
    if (f.kind === "kill-service") {
      let p: ProcInfo | undefined;
      await waitFor(`${f.service} to be running`, () => (p = vigilTree(up.pid!, crashScript).services.get(f.service)) !== undefined, 30_000, 250).catch(() => undefined);
      if (!p) return void timeline.push({ atS: at, fault: `kill -9 ${f.service}`, detail: "not running: skipped" });
      process.kill(p.pid, "SIGKILL");
      kills[f.service] = (kills[f.service] ?? 0) + 1;
      timeline.push({ atS: at, fault: `kill -9 ${f.service}`, detail: `pid ${p.pid}` });
    } else if (f.kind === "kill-nats") {
      kills["nats-server"] = (kills["nats-server"] ?? 0) + 1;
      timeline.push({ atS: at, fault: "kill -9 nats-server", detail: await killBus(holdMs) });
    } else if (f.kind === "sink-outage") {
      await sink.stop();
      sinkOutages++;
      await sleep(holdMs);
      await sink.start();
      timeline.push({ atS: at, fault: "cloud sink outage", detail: `down ${(holdMs / 1000).toFixed(1)} s` });
    } else {
      await sink.faults({ hang: true });
      sinkHangs++;
      await sleep(holdMs);
      await sink.faults(undefined);
      timeline.push({ atS: at, fault: "cloud sink hangs", detail: `${(holdMs / 1000).toFixed(1)} s` });
    }
    progress(`${timeline.at(-1)!.fault} (${timeline.at(-1)!.detail})`);
  };
  // Faults overlap as they fall (a service may be killed while the sink is away), but one resource —
  // nats-server, the sink — takes one fault at a time.
  const busy = new Map<string, Promise<void>>();
  for (const p of plan) {
    const wait = loadStart + p.atMs - Date.now();
    if (wait > 0) await sleep(wait);
    const resource = p.fault.kind === "kill-service" ? `service:${p.fault.service}` : p.fault.kind === "kill-nats" ? "nats" : "sink";
    const prev = busy.get(resource) ?? Promise.resolve();
    busy.set(resource, prev.then(() => runFault(p.fault, p.holdMs)).then(
      () => undefined,
      (err: Error) => void progress(`fault failed: ${err.message}`),
    ));
  }
  await Promise.all(busy.values());
  const rest = loadStart + DURATION_MS - Date.now();
  if (rest > 0) await sleep(rest);

  // The end: stop the load, let telemetry drain what the stream holds.
  await load.stop();
  clearInterval(report);
  progress(`load stopped: generated ${load.stats.generated}, acked ${load.stats.acked}, failed ${load.stats.failed}, skipped ${load.stats.skipped}`);
  const nc = await connect({ ...busOpts, name: "chaos-check", maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(nc);
  const cutSeq = (await jsm.streams.info("VIGIL")).state.last_seq;
  const drainStart = Date.now();
  await waitFor(`telemetry to forward everything up to stream seq ${cutSeq}`, async () => (await jsm.consumers.info("VIGIL", "telemetry")).ack_floor.stream_seq >= cutSeq, 300_000, 1_000).catch((err: Error) => progress(err.message));
  const drainS = round1((Date.now() - drainStart) / 1000);
  progress(`telemetry drained to seq ${cutSeq} in ${drainS} s`);
  // Room for a worker that crashed just before the cut to come back (backoff cap 2 s).
  await sleep(5_000);
  clearInterval(sampler);
  const before = sample();

  // Item 3: SIGTERM the whole system: exit 0, no process left behind.
  const watched = [...seen.values()];
  const termAt = Date.now();
  up.kill("SIGTERM");
  await waitFor("vigil up to exit", () => upExit !== undefined, 120_000, 200).catch((err: Error) => progress(err.message));
  const shutdownS = round1((Date.now() - termAt) / 1000);
  await sleep(2_000);
  const orphans = [...watched.filter((p) => stillAlive(p)), ...allProcs().filter((p) => p.state !== "Z" && p.ppid !== process.pid && p.cmdline.some((a) => a.includes(dir)) && !watched.some((w) => w.pid === p.pid))];
  progress(`vigil up exited ${JSON.stringify(upExit)} in ${shutdownS} s; ${orphans.length} processes left behind (of ${watched.length} seen, ${before.services.size} services and ${before.workers.length} workers at the end)`);
  let reopened: ChildProcess | undefined;
  if (!external) {
    // vigil up stopped its server with it: start it again on the same config and store, for the
    // reads below (the harness's connection reconnects by itself).
    const again = (reopened = spawn(process.env.VIGIL_NATS_SERVER || "nats-server", ["-c", join(dataDir, "nats-server.conf")], { stdio: "ignore" }));
    cleanups.push(() => again.kill("SIGTERM"));
    await waitFor("the store to be served again", async () => (await jsm.streams.info("VIGIL")).state.last_seq >= cutSeq, 60_000, 250);
  }
  const floorAfter = (await jsm.consumers.info("VIGIL", "telemetry")).ack_floor.stream_seq;

  // The checks.
  const stream = await readStream(nc, `vigil.${DEVICE}.>`);
  const sinkIds = await sink.ids();
  const sinkCounts = await sink.counts();
  const delivery = checkDelivery(stream, cutSeq, sinkIds);
  const ackedMissing = checkDelivery(stream, floorAfter, sinkIds).lost;
  const recovery = checkRecovery(
    stream.filter((e) => e.seq <= cutSeq),
    WORKERS,
  );
  const starts = stream.filter((e) => e.seq <= cutSeq && /obs\.worker\.started$|out\.worker\.(re)?started$/.test(e.type) && WORKERS.includes(e.data.worker as string)).length;
  const growth = rssGrowth([...series.values()]);
  const judged = growth.filter((g) => g.growthPct !== undefined);
  const maxGrowth = judged.length ? Math.max(...judged.map((g) => g.growthPct!)) : 0;
  const logs = classifyErrors(scanLogs(logDir));
  const deaths: Record<string, number> = {};
  for (const m of upText.matchAll(/service (\w+) died/g)) deaths[m[1]!] = (deaths[m[1]!] ?? 0) + 1;
  const unexplainedDeaths = Object.entries(deaths).filter(([s, n]) => n > (kills[s] ?? 0)).map(([s, n]) => ({ service: s, died: n, killed: kills[s] ?? 0 }));
  const streamIds = new Set(stream.map((e) => e.id));
  const ackedNotInStream = [...load.ackedIds].filter((id) => !streamIds.has(id));
  const loadEvents = stream.filter((e) => e.seq <= cutSeq && e.type.endsWith("obs.demo.reading")).length;
  const totalKills = Object.values(kills).reduce((a, b) => a + b, 0);
  // Least privilege held all along: no service (each on its own user) asked for a right it lacks.
  const serverLog = join(logDir, "nats-server.log");
  const violations = external || !existsSync(serverLog) ? [] : readFileSync(serverLog, "utf8").split("\n").filter((l) => / Violation - User /.test(l));

  const checks = {
    exactly_once: delivery.lost === 0 && delivery.duplicates === 0,
    workers_recovered: recovery.unrecovered.length === 0,
    memory_within_margin: maxGrowth <= RSS_MARGIN_PCT,
    no_unexpected_errors: logs.unexpected.length === 0,
    no_unexplained_service_deaths: unexplainedDeaths.length === 0,
    shutdown_exit_0: upExit?.code === 0,
    no_orphans: orphans.length === 0,
    acked_means_at_sink: ackedMissing === 0,
    published_means_in_stream: ackedNotInStream.length === 0,
    no_permission_violations: violations.length === 0,
  };
  const pass = Object.values(checks).every(Boolean);
  const result = {
    chaos_minutes: MINUTES,
    events: delivery.events,
    lost: delivery.lost,
    duplicates: delivery.duplicates,
    kills: totalKills,
    unrecovered: recovery.unrecovered.length,
    max_rss_growth_pct: maxGrowth,
    pass,
    checks,
    details: {
      seed: SEED,
      bus: BUS === "embedded" ? "embedded nats-server started and restarted by vigil up, one user per service" : "external nats-server owned by the harness, no users",
      permission_violations: violations.length,
      permission_violation_samples: violations.slice(0, 10),
      rss_margin_pct: RSS_MARGIN_PCT,
      load: { rate_per_s: RATE, ...load.stats, in_stream: loadEvents, acked_not_in_stream: ackedNotInStream.length, acked_not_in_stream_ids: ackedNotInStream.slice(0, 20), note: "failed = the publish was not acknowledged (nats-server down); such an event may or may not have reached the stream — the stream is the truth for lost/duplicates" },
      stream: { cut_seq: cutSeq, events_at_cut: delivery.events, telemetry_drain_s: drainS, telemetry_ack_floor_after_shutdown: floorAfter, acked_not_at_sink: ackedMissing },
      sink: { ...sinkCounts, distinct_ids: delivery.atSink, stored_twice: delivery.duplicates, resent_and_deduplicated: sinkCounts.duplicates ?? 0 },
      lost_seqs: delivery.lostSeqs.slice(0, 100),
      duplicate_ids: delivery.duplicateIds.slice(0, 100),
      kills_by_target: kills,
      sink_outages: sinkOutages,
      sink_hangs: sinkHangs,
      timeline,
      workers: { crashes: recovery.crashes.length, starts, escalations: recovery.escalations, unrecovered: recovery.unrecovered, slowest_recovery_ms: Math.max(0, ...recovery.crashes.map((c) => c.recoveryMs ?? 0)) },
      service_deaths_seen_by_vigil_up: deaths,
      unexplained_service_deaths: unexplainedDeaths,
      rss: growth,
      logs: { errors: logs.total, expected: logs.expected, unexpected: logs.unexpected.length, unexpected_samples: logs.unexpected.slice(0, 20) },
      shutdown: { exit: upExit, seconds: shutdownS, processes_watched: watched.length, orphans: orphans.map((p) => ({ pid: p.pid, cmdline: p.cmdline.join(" ") })) },
      run_dir: dir,
    },
  };

  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, "chaos.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, "chaos.md"), markdown(result));
  const line = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(22)} ${typeof v === "string" ? v : JSON.stringify(v)}\n`);
  process.stdout.write(`\n=== chaos: ${pass ? "PASS" : "FAIL"} (seed ${SEED}) ===\n`);
  line("chaos_minutes", MINUTES);
  line("events", delivery.events);
  line("lost", delivery.lost);
  line("duplicates", delivery.duplicates);
  line("resent (deduplicated)", sinkCounts.duplicates ?? 0);
  line("kills", `${totalKills} ${JSON.stringify(kills)}`);
  line("sink outages / hangs", `${sinkOutages} / ${sinkHangs}`);
  line("worker crashes", `${recovery.crashes.length}, unrecovered ${recovery.unrecovered.length}, escalated ${recovery.escalations}`);
  line("max_rss_growth_pct", `${maxGrowth} (margin ${RSS_MARGIN_PCT}; ${judged.length} incarnations judged)`);
  line("log errors", `${logs.total}: expected ${JSON.stringify(logs.expected)}, unexpected ${logs.unexpected.length}`);
  for (const u of logs.unexpected.slice(0, 10)) line("  unexpected", `${u.file}: ${u.text.slice(0, 300)}`);
  line("acked, not in stream", ackedNotInStream.length);
  line("bus", `${BUS}; permission violations ${violations.length}`);
  line("shutdown", `exit ${JSON.stringify(upExit)} in ${shutdownS} s, orphans ${orphans.length}, acked-not-at-sink ${ackedMissing}`);
  line("checks", checks);
  process.stdout.write("report: bench/results/chaos.json and chaos.md\n");

  await nc.close();
  await loadNc.close().catch(() => undefined);
  await sink.stop();
  await external?.stop();
  if (reopened && reopened.exitCode === null) await new Promise((r) => (reopened!.once("exit", r), reopened!.kill("SIGTERM")));
  if (pass && !process.env.CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  else progress(`run dir kept for inspection: ${dir}`);
  process.exitCode = pass ? 0 : 1;
}


main().catch(async (err) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  process.exit(1);
});
