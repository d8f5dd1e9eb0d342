#!/usr/bin/env node
/**
 * Gateway fan-out benchmark. In one run, side by side:
 *
 *  1. WebSocket fan-out: the real gateway as a child process (dist/main.js, as `vigil up` runs it) on a
 *     real nats-server -js; N WebSocket clients (default 100) each subscribed live to the device's
 *     events; a publisher sends R events/s (default 1,000) through JetStream for D seconds (default 30).
 *     Each event carries its publish time (epoch ms, sub-ms) in its data (a `sys.service.heartbeat`
 *     whose `uptimeMs` holds it), so publish → client receive latency is measured per delivery.
 *  2. The floor: a bare NATS subscriber (core subscription on the same subjects) receiving the same
 *     events in the same run.
 *
 * Gateway CPU and RSS come from /proc/<pid>. Writes results/gateway.json and results/gateway.md.
 *
 *   node dist/gateway.bench.js [--clients N] [--rate R] [--seconds D]   (or BENCH_GW_CLIENTS / _RATE / _SECONDS)
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { encodeEvent, hashToken, makeEvent, readPidStat } from "@vigil/events";
import { freePort, startNatsServer } from "@vigil/events/testing";
import WebSocket from "ws";
import { positiveNumber } from "./lib/options.js";
import { mean, percentile } from "./lib/stats.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = resolve(HERE, "..");
const REPO = resolve(BENCH_DIR, "..");
const RESULTS_DIR = join(BENCH_DIR, "results");
const GATEWAY_MAIN = join(REPO, "services", "gateway", "dist", "main.js");
const TARGET_P99_MS = 50;
const WARMUP_S = 3;
const DEVICE = "bench";
const TOKEN = "bench-viewer-token-0123456789abcdef";

const now = () => performance.timeOrigin + performance.now();
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** A growable list of latencies (ms) without boxing 3 M numbers. */
class Samples {
  private buf = new Float64Array(1 << 16);
  n = 0;
  push(v: number) {
    if (this.n === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = v;
  }
  summary() {
    const s = this.buf.slice(0, this.n).sort();
    return { count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean: mean(s) };
  }
}

/** utime + stime of a live process, in clock ticks. */
function procCpuTicks(pid: number): number {
  const s = readPidStat(pid);
  if (!s) throw new Error(`process ${pid} is gone: cannot read its CPU time`);
  return s.cpuTicks;
}

function procMemMb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

const TS = /"uptimeMs":([0-9.]+)/g;

async function main() {
  const clients = positiveNumber("clients", "BENCH_GW_CLIENTS", 100);
  const rate = positiveNumber("rate", "BENCH_GW_RATE", 1000);
  const seconds = positiveNumber("seconds", "BENCH_GW_SECONDS", 30);
  const CLK_TCK = 100; // Linux USER_HZ

  const srv = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), "vigil-bench-gw-"));
  const port = await freePort();
  const cfg = join(dir, "vigil.yaml");
  writeFileSync(
    cfg,
    JSON.stringify({
      device: DEVICE,
      dataDir: join(dir, "data"),
      log: { level: "warn" },
      // Default maxBytes (1 GiB) is plenty for 30 k small events.
      gateway: { port, tokens: [{ name: "bench", role: "viewer", sha256: hashToken(TOKEN) }], clientBufferBytes: 4 * 1024 * 1024 },
    }),
  );
  progress(`nats-server at ${srv.url}; starting the gateway (${GATEWAY_MAIN}) on port ${port}`);
  const gw = spawn(process.execPath, [GATEWAY_MAIN], { env: { ...process.env, VIGIL_CONFIG: cfg, VIGIL_NATS_URL: srv.url }, stdio: ["ignore", "ignore", "pipe"] });
  let gwLog = "";
  gw.stderr!.on("data", (d) => (gwLog = (gwLog + d).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 100 || gw.exitCode !== null) throw new Error(`gateway did not come up:\n${gwLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const measuring = { on: false };
  const ws = new Samples();
  const natsLat = new Samples();
  let lagged = 0;
  let wsReceived = 0;

  // N WebSocket clients, subscribed live to the device's events.
  const sockets: WebSocket[] = [];
  await Promise.all(
    Array.from({ length: clients }, () =>
      new Promise<void>((res, rej) => {
        const c = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
        sockets.push(c);
        c.on("error", rej);
        c.on("message", (data) => {
          const t = now();
          const text = data.toString();
          if (text.startsWith('{"type":"events"')) {
            for (const m of text.matchAll(TS)) {
              wsReceived++;
              if (measuring.on) ws.push(t - Number(m[1]));
            }
          } else {
            const msg = JSON.parse(text);
            if (msg.type === "hello") c.send(JSON.stringify({ v: 1, id: "s", op: "subscribe", filters: [`vigil.${DEVICE}.sys.>`] }));
            else if (msg.type === "subscribed") res();
            else if (msg.type === "lagged") lagged += msg.dropped;
            else if (msg.type === "error") rej(new Error(msg.message));
          }
        });
      }),
    ),
  );
  progress(`${clients} WebSocket clients subscribed`);

  // The floor: a bare core-NATS subscriber on the same events.
  const subNc = await connect({ servers: srv.url, name: "bench-floor" });
  const sub = subNc.subscribe(`vigil.${DEVICE}.sys.>`);
  void (async () => {
    for await (const m of sub) {
      const t = now();
      const match = /"uptimeMs":([0-9.]+)/.exec(new TextDecoder().decode(m.data));
      if (match && measuring.on) natsLat.push(t - Number(match[1]));
    }
  })();

  // The feed: R events/s through JetStream, a bounded window of in-flight publishes.
  const pubNc = await connect({ servers: srv.url, name: "bench-publisher" });
  const js = jetstream(pubNc);
  const total = Math.round(rate * (seconds + WARMUP_S));
  let sent = 0;
  let inflight = 0;
  let pubErrors = 0;
  const start = now();
  let cpu0 = 0;
  let t0 = 0;
  progress(`publishing ${rate} events/s for ${WARMUP_S} s warm-up + ${seconds} s measured`);
  await new Promise<void>((done) => {
    const tick = () => {
      const elapsed = (now() - start) / 1000;
      if (!measuring.on && elapsed >= WARMUP_S) {
        measuring.on = true;
        cpu0 = procCpuTicks(gw.pid!);
        t0 = now();
      }
      const due = Math.min(total, Math.floor(elapsed * rate));
      while (sent < due && inflight < 512) {
        const e = makeEvent(DEVICE, `vigil/${DEVICE}/bench`, "sys.service.heartbeat", { service: "bench", pid: process.pid, uptimeMs: now(), rssBytes: 0 });
        inflight++;
        sent++;
        js.publish(e.subject, encodeEvent(e), { msgID: e.id }).then(
          () => inflight--,
          () => (inflight--, pubErrors++),
        );
      }
      if (sent >= total) return done();
      setTimeout(tick, 2);
    };
    tick();
  });
  // Let the last events arrive.
  const expected = (sent - 0) * clients;
  for (let i = 0; i < 50 && wsReceived + lagged < expected; i++) await new Promise((r) => setTimeout(r, 100));
  const measuredS = (now() - t0) / 1000;
  const cpuPct = ((procCpuTicks(gw.pid!) - cpu0) / CLK_TCK / measuredS) * 100;
  const mem = procMemMb(gw.pid!);
  measuring.on = false;

  const wsS = ws.summary();
  const natsS = natsLat.summary();
  for (const s of sockets) s.close();
  await pubNc.close();
  await subNc.close();
  gw.kill("SIGTERM");
  await new Promise((r) => gw.once("exit", r));
  await srv.cleanup();
  rmSync(dir, { recursive: true, force: true });

  const r2 = (x: number) => Math.round(x * 100) / 100;
  const result = {
    ws_fanout_p99_ms: r2(wsS.p99),
    nats_sub_p99_ms: r2(natsS.p99),
    gateway_rss_mb: r2(mem.rss),
    ws_fanout_p50_ms: r2(wsS.p50),
    ws_fanout_p90_ms: r2(wsS.p90),
    ws_fanout_max_ms: r2(wsS.max),
    nats_sub_p50_ms: r2(natsS.p50),
    gateway_rss_peak_mb: r2(mem.hwm),
    gateway_cpu_pct: r2(cpuPct),
    clients,
    events_per_s: rate,
    seconds_measured: r2(measuredS),
    warmup_s: WARMUP_S,
    events_published: sent,
    publish_errors: pubErrors,
    deliveries_measured: wsS.count,
    deliveries_received: wsReceived,
    events_dropped_for_lag: lagged,
    target_p99_ms: TARGET_P99_MS,
    meets_target: wsS.p99 <= TARGET_P99_MS,
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? "?", kernel: release(), node: process.version },
    at: new Date().toISOString(),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, "gateway.json"), JSON.stringify(result, null, 2) + "\n");
  const md = `# Gateway fan-out benchmark

${clients} WebSocket clients, each subscribed live to one device's events, while ${rate} events/s are
published through JetStream for ${r2(measuredS)} s (after ${WARMUP_S} s of warm-up), on ${availableParallelism()} cores
(${result.machine.model}), ${process.version}. The gateway runs as its own process (as \`vigil up\` runs it);
the clients, the publisher and the bare NATS subscriber share the benchmark process; nats-server is a third.

| measure | value |
| --- | --- |
| publish → WebSocket client, p50 | ${result.ws_fanout_p50_ms} ms |
| publish → WebSocket client, p90 | ${result.ws_fanout_p90_ms} ms |
| **publish → WebSocket client, p99** | **${result.ws_fanout_p99_ms} ms** (target ≤ ${TARGET_P99_MS} ms: ${result.meets_target ? "met" : "NOT met"}) |
| publish → WebSocket client, max | ${result.ws_fanout_max_ms} ms |
| floor: publish → bare NATS subscriber, p50 / p99 | ${result.nats_sub_p50_ms} / ${result.nats_sub_p99_ms} ms |
| gateway CPU (of one core, while measuring) | ${result.gateway_cpu_pct} % |
| gateway RSS at the end / peak | ${result.gateway_rss_mb} / ${result.gateway_rss_peak_mb} MiB |
| deliveries measured / received | ${wsS.count} / ${wsReceived} |
| events dropped for slow clients | ${lagged} |
| publish errors | ${pubErrors} |

How: each event is a \`sys.service.heartbeat\` whose \`data.uptimeMs\` carries the publish time
(epoch ms, sub-ms, taken just before \`js.publish\`); a client subtracts it from its receive time (same
clock, same process). The gateway decodes each event once from one ordered consumer and sends it to
every matching subscription in per-tick batches (\`{type:"events", events:[…]}\`). The floor is a core
NATS subscription: it sees the publish directly, without the stream's store-and-deliver hop the gateway's
ordered consumer adds.
`;
  writeFileSync(join(RESULTS_DIR, "gateway.md"), md);
  process.stdout.write(md);
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
