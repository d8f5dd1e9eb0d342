#!/usr/bin/env node
/**
 * Decider throughput (issue 13): events folded per second by the real decider process
 * (services/decider/dist/main.js, as `vigil up` runs it, its logs read from a pipe) on a real
 * nats-server -js, for
 *
 *  - valid traffic: a backlog of N well-formed events the decider folds without deciding anything
 *    (health samples of two workers and heartbeats of other services, alternating), and
 *  - invalid traffic: a backlog of N events of an unknown type, each dead-lettered (sys.deadletter
 *    published, the message terminated), with the dead letters windowed and logged once per burst
 *    (libs/events dead-letters.ts), and, in the same run, the old path as baseline
 *    (VIGIL_DEADLETTER_WINDOW=1: each dead letter's publish awaited and logged on its own line).
 *
 * Each series: a fresh server, the backlog published first, then the decider started. The clock
 * runs from the first poll (every 20 ms) that sees the decider's consumer ack anything to the poll
 * that sees every message of the stream acked (for the invalid series: and the N dead letters
 * stored); rate = messages of the backlog acked in that interval / its length. The dead letters the
 * decider reads back (its own output, not input) are part of the work measured.
 *
 *   node dist/decider.bench.js [--events N] [--baseline-events M]   (or BENCH_DECIDER_EVENTS / _BASELINE_EVENTS;
 *   BENCH_DECIDER_PROFILE_DIR=dir writes a CPU profile of each decider run there)
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { encodeEvent, ensureStream, makeEvent, parseConfig } from "@vigil/events";
import { startNatsServer } from "@vigil/events/testing";
import { exitWithUsageIfAsked, integerOption } from "./lib/options.js";

exitWithUsageIfAsked(`
usage: node bench/dist/decider.bench.js [--events N] [--baseline-events N]

  --events N            valid and invalid events folded by the decider (default 100000; BENCH_DECIDER_EVENTS)
  --baseline-events N   events for the awaited dead-letter baseline (default 20000; BENCH_DECIDER_BASELINE_EVENTS)

Writes bench/results/decider.json and decider.md.
`);

const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = resolve(HERE, "..");
const REPO = resolve(BENCH_DIR, "..");
const RESULTS_DIR = join(BENCH_DIR, "results");
const DECIDER_MAIN = join(REPO, "services", "decider", "dist", "main.js");
const DEVICE = "bench";
const TARGET_EVENTS_PER_S = 10_000;
const POLL_MS = 20;
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

type Traffic = "valid" | "invalid";

/** The i-th event of the backlog, encoded, with its subject. */
function backlogEvent(traffic: Traffic, i: number): { subject: string; payload: Uint8Array } {
  if (traffic === "invalid") {
    // A well-formed envelope whose type the catalog does not know: what a newer or buggy publisher sends.
    const e = makeEvent(DEVICE, `vigil/${DEVICE}/flood`, "sys.service.heartbeat", { service: "flood", pid: 1, uptimeMs: i, rssBytes: 1 });
    const subject = `vigil.${DEVICE}.obs.bogus.reading`;
    return { subject, payload: new TextEncoder().encode(JSON.stringify({ ...e, type: "io.vigil.obs.bogus.reading", subject })) };
  }
  const e =
    i % 2 === 0
      ? makeEvent(DEVICE, `vigil/${DEVICE}/health`, "obs.health.sample", {
          cpuPct: 12,
          load1: 0.3,
          memPct: 40,
          tempC: 45,
          disks: [{ mount: "/", usedPct: 50 }],
          workers: [
            { worker: "sensor", pid: 100, cpuPct: 3, rssBytes: 20_000_000 },
            { worker: "pump", pid: 101, cpuPct: 2, rssBytes: 30_000_000 },
          ],
          intervalMs: 1000,
        })
      : makeEvent(DEVICE, `vigil/${DEVICE}/noise`, "sys.service.heartbeat", { service: "noise", pid: 1, uptimeMs: i, rssBytes: 1 });
  return { subject: e.subject, payload: encodeEvent(e) };
}

/** Publishes the backlog through JetStream, 256 publishes in flight (v3 has no fire-and-forget). */
async function publishBacklog(nc: NatsConnection, traffic: Traffic, n: number): Promise<number> {
  const js = jetstream(nc);
  let last = 0;
  for (let i = 0; i < n; i += 256) {
    const acks = [];
    for (let j = i; j < Math.min(n, i + 256); j++) {
      const { subject, payload } = backlogEvent(traffic, j);
      acks.push(js.publish(subject, payload));
    }
    for (const a of await Promise.all(acks)) last = Math.max(last, a.seq);
  }
  return last;
}

async function consumerProgress(jsm: JetStreamManager): Promise<{ ackFloor: number; pending: number; ackPending: number } | undefined> {
  try {
    const ci = await jsm.consumers.info("VIGIL", "decider");
    return { ackFloor: ci.ack_floor.stream_seq, pending: ci.num_pending, ackPending: ci.num_ack_pending };
  } catch {
    return undefined; // not created yet
  }
}

interface SeriesResult {
  traffic: Traffic;
  deadLetterPath: "windowed" | "awaited (old)";
  events: number;
  seconds: number;
  eventsPerS: number;
  deadLetters: number;
  deciderLogLines: number;
}

async function series(traffic: Traffic, n: number, window: number | undefined): Promise<SeriesResult> {
  const srv = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), "vigil-decider-bench-"));
  const nc = await connect({ servers: srv.url });
  const jsm = await jetstreamManager(nc);
  const config = parseConfig({ device: DEVICE, nats: { url: srv.url }, workers: [{ name: "sensor", command: "x" }, { name: "pump", command: "x" }] }, { env: {} });
  await ensureStream(jsm, config.stream);
  const cfgFile = join(dir, "vigil.yaml");
  writeFileSync(cfgFile, JSON.stringify({ device: DEVICE, nats: { url: srv.url }, dataDir: join(dir, "data"), workers: [{ name: "sensor", command: "x" }, { name: "pump", command: "x" }] }));
  progress(`${traffic}${window === 1 ? " (old dead-letter path)" : ""}: publishing ${n} events`);
  const backlogLast = await publishBacklog(nc, traffic, n);
  const env = { ...process.env, VIGIL_CONFIG: cfgFile, VIGIL_LOG_LEVEL: "info", ...(window !== undefined ? { VIGIL_DEADLETTER_WINDOW: String(window) } : {}) };
  // BENCH_DECIDER_PROFILE_DIR: a V8 CPU profile of each decider run (where its time goes).
  const prof = process.env.BENCH_DECIDER_PROFILE_DIR;
  const child = spawn(process.execPath, [...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : []), DECIDER_MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
  let logLines = 0;
  const countLines = (b: Buffer) => {
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) logLines++;
  };
  child.stdout.on("data", countLines);
  child.stderr.on("data", countLines);
  let t0: number | undefined;
  let floor0 = 0;
  let t1: number | undefined;
  const deadline = Date.now() + 600_000;
  try {
    while (t1 === undefined) {
      if (Date.now() > deadline) throw new Error(`${traffic}: the decider did not finish within 600 s`);
      if (child.exitCode !== null) throw new Error(`the decider exited (code ${child.exitCode})`);
      const p = await consumerProgress(jsm);
      const now = performance.now();
      if (p && p.ackFloor > 0 && t0 === undefined) {
        t0 = now;
        floor0 = p.ackFloor;
      }
      if (p && t0 !== undefined && p.ackFloor >= backlogLast && p.pending === 0 && p.ackPending === 0) {
        // A bad message is terminated only once its dead letter (or its flood summary) is stored, so
        // every backlog message acked means every dead letter stored; the ack floor then also covers
        // the dead letters the decider reads back.
        const si = await jsm.streams.info("VIGIL");
        if (p.ackFloor >= si.state.last_seq) t1 = now;
      }
      if (t1 === undefined) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const si = await jsm.streams.info("VIGIL", { subjects_filter: `vigil.${DEVICE}.sys.deadletter` });
    const seconds = (t1 - t0!) / 1000;
    const folded = backlogLast - floor0 + 1;
    const r: SeriesResult = {
      traffic,
      deadLetterPath: window === 1 ? "awaited (old)" : "windowed",
      events: n,
      seconds: Math.round(seconds * 1000) / 1000,
      eventsPerS: Math.round(folded / seconds),
      deadLetters: Object.values(si.state.subjects ?? {}).reduce((a, b) => a + b, 0),
      deciderLogLines: logLines,
    };
    progress(`${traffic}: ${r.eventsPerS} events/s (${r.seconds} s, ${r.deadLetters} dead letters, ${logLines} log lines)`);
    return r;
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
    await nc.close();
    await srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(results: SeriesResult[], n: number, baselineN: number): void {
  const valid = results.find((r) => r.traffic === "valid" && r.deadLetterPath === "windowed")!;
  const invalid = results.find((r) => r.traffic === "invalid" && r.deadLetterPath === "windowed")!;
  const old = results.find((r) => r.traffic === "invalid" && r.deadLetterPath !== "windowed")!;
  const json = {
    decider_valid_events_per_s: valid.eventsPerS,
    decider_invalid_events_per_s: invalid.eventsPerS,
    decider_invalid_events_per_s_old_path: old.eventsPerS,
    target_events_per_s: TARGET_EVENTS_PER_S,
    meets_target: valid.eventsPerS >= TARGET_EVENTS_PER_S && invalid.eventsPerS >= TARGET_EVENTS_PER_S,
    events: n,
    baseline_events: baselineN,
    series: results,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "?", kernel: release(), node: process.version },
    measuredAt: new Date().toISOString(),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, "decider.json"), JSON.stringify(json, null, 2) + "\n");
  const row = (r: SeriesResult) => `| ${r.traffic} | ${r.deadLetterPath} | ${r.events} | ${r.seconds} | **${r.eventsPerS}** | ${r.deadLetters} | ${r.deciderLogLines} |`;
  const md = `# Decider throughput (issue 13)

Measured ${json.measuredAt} on ${json.machine.cpus} × ${json.machine.model}, Linux ${json.machine.kernel}, Node ${json.machine.node}; \`node bench/dist/decider.bench.js\`.

| traffic | dead-letter path | events | seconds | events/s | dead letters stored | decider log lines |
|---|---|---|---|---|---|---|
${results.map(row).join("\n")}

Target ≥ ${TARGET_EVENTS_PER_S} events/s on both valid and invalid traffic: **${json.meets_target ? "met" : "NOT met"}**
(valid ${valid.eventsPerS}/s, invalid ${invalid.eventsPerS}/s; the old dead-letter path ${old.eventsPerS}/s, ${old.events} events, in the same run).

## How each figure is computed

- Every series runs the real decider process (\`services/decider/dist/main.js\`, its JSON logs read
  from a pipe and counted) on a fresh real \`nats-server -js\`. The backlog (N events) is published
  through JetStream first; then the decider is started, so its start-up is not in the figure.
- The clock starts at the first poll (every ${POLL_MS} ms, \`consumer info\` of the durable \`decider\`)
  that sees an ack, and stops at the poll that sees every message of the stream acked with nothing
  pending (a bad message is terminated only after its dead letter is stored, so this includes them,
  and the decider reading them back).
  **events/s** = backlog messages acked in that interval ÷ its length.
- **valid** (\`decider_valid_events_per_s\`): alternating \`obs.health.sample\` (two workers, nothing
  over a threshold) and heartbeats of another service — folded, nothing decided.
- **invalid** (\`decider_invalid_events_per_s\`): well-formed envelopes of an unknown type on
  \`obs.bogus.reading\`; each is dead-lettered (\`sys.deadletter\` published with the reason, the message
  terminated). The dead letters go out in a bounded window (256 in flight, libs/events
  \`dead-letters.ts\`), one per message up to 200/s; past that rate the flood is batched: one
  \`sys.deadletter\` per 500 messages (or per second) naming the count, the sequence range and the
  reasons (the messages stay in the stream by sequence). Logged once in full, then once per second with a count.
  "dead letters stored" counts \`sys.deadletter\` events, so it is below the number of bad events.
  The decider also reads its own dead letters back (skipped: not input); that is part of the time.
- **old path** (baseline, \`VIGIL_DEADLETTER_WINDOW=1\`): the code before the fix — each dead letter's
  publish awaited before the next message, one log line each. Run with ${baselineN} events (the old
  path at ~1,000/s would make ${n} take minutes).
`;
  writeFileSync(join(RESULTS_DIR, "decider.md"), md);
  progress(`wrote ${join(RESULTS_DIR, "decider.json")} and .md`);
}

async function main(): Promise<void> {
  const n = integerOption("events", "BENCH_DECIDER_EVENTS", 100_000);
  const baselineN = integerOption("baseline-events", "BENCH_DECIDER_BASELINE_EVENTS", 20_000);
  const results: SeriesResult[] = [];
  results.push(await series("valid", n, undefined));
  results.push(await series("invalid", n, undefined));
  results.push(await series("invalid", baselineN, 1));
  report(results, n, baselineN);
  const ok = results[0]!.eventsPerS >= TARGET_EVENTS_PER_S && results[1]!.eventsPerS >= TARGET_EVENTS_PER_S;
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
