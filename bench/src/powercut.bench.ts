#!/usr/bin/env node
/**
 * Power cuts (issue 18, docs/durability.md): `vigil up` with its data dir on LazyFS, load and
 * crashing workers, POWERCUT_CUTS (default 20) cuts at random moments; then the publish rate
 * through Vigil's publisher with the durability barrier beside the same without it (VIGIL_DURABILITY=off,
 * today's 2.9 behaviour), in the same run, on the machine's own disk. Writes results/powercut.json and .md.
 *   POWERCUT_CUTS=20 POWERCUT_RATE=1000 POWERCUT_PUBLISH_S=5 node dist/powercut.bench.js
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connectBus, createPublisher, durabilitySubjects, type DurableMark } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import { runPowerCuts } from "@vigil/cli/dist/powercut-run.js";
import { vigilUpEmbedded, writeConfig } from "@vigil/cli/dist/e2e-helpers.js";
import { integerOption } from "./lib/options.js";
import { percentile } from "./lib/stats.js";

const RESULTS_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), ".."), "results");
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const cuts = integerOption("cuts", process.env.POWERCUT_CUTS, 20);
const rate = integerOption("rate", process.env.POWERCUT_RATE, 1000);
const publishS = integerOption("publish-s", process.env.POWERCUT_PUBLISH_S, 5);
/** Publishes in flight at once (a busy service, or several). */
const WINDOW = 64;

/** Events/s through createPublisher (outbox on the same disk) for `seconds`; with the barrier also ack→durable latencies. */
async function publishRate(barrier: boolean): Promise<{ perS: number; ackToDurableMs: number[] }> {
  const cfg = writeConfig({ device: "pcb", workers: [] });
  const vigil = await vigilUpEmbedded(cfg, await freePort(), { VIGIL_UP_SERVICES: "netmon", ...(barrier ? {} : { VIGIL_DURABILITY: "off" }) }, 120_000);
  try {
    const nc = await connectBus(vigil.nats, "powercut-bench");
    const outboxDir = mkdtempSync(join(tmpdir(), "vigil-pcb-outbox-"));
    const pub = await createPublisher(nc, { device: "pcb", source: "vigil/pcb/powercut-bench", outboxDir, holdUntilDurable: barrier });
    const ackedAt = new Map<number, number>();
    const latencies: number[] = [];
    const sub = nc.subscribe(durabilitySubjects("pcb").announce, {
      callback: (_e, m) => {
        const mark = JSON.parse(new TextDecoder().decode(m.data)) as DurableMark;
        for (const [seq, t] of ackedAt) if (seq <= mark.seq) (latencies.push(performance.now() - t), ackedAt.delete(seq));
      },
    });
    let n = 0;
    let acked = 0;
    const end = Date.now() + publishS * 1000;
    const worker = async () => {
      while (Date.now() < end) {
        const seq = n++;
        const r = await pub.emit("obs.demo.reading", { sensor: "bench", seq, value: seq });
        if (r.seq !== undefined) (acked++, barrier && ackedAt.set(r.seq, performance.now()));
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: WINDOW }, worker));
    const perS = acked / ((performance.now() - t0) / 1000);
    await pub.close();
    sub.unsubscribe();
    await nc.close();
    return { perS, ackToDurableMs: latencies };
  } finally {
    await vigil.stop();
  }
}

const started = Date.now();
progress(`${cuts} power cuts at ${rate} events/s`);
const r = await runPowerCuts({ cuts, rate, say: progress });
progress("publish rate without the barrier (today's behaviour)");
const without = await publishRate(false);
progress("publish rate with the barrier");
const withB = await publishRate(true);
const lat = withB.ackToDurableMs.sort((a, b) => a - b);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const recovery = [...r.recoveryMs].sort((a, b) => a - b);
const result = {
  bench: "powercut",
  date: new Date().toISOString(),
  server: "nats-server 2.9.10 (Debian)",
  cuts: r.cuts,
  acked: r.acked,
  acked_lost: r.ackedLost,
  acked_duplicated: r.duplicates,
  commands_run_twice: r.commandsRunTwice,
  started_by_itself_every_time: r.startedEachTime,
  publish_events_per_s_with_barrier: Math.round(withB.perS),
  publish_events_per_s_without: Math.round(without.perS),
  with_over_without: round(withB.perS / without.perS, 2),
  barrier_p50_ms: round(percentile(lat, 50)),
  barrier_p99_ms: round(percentile(lat, 99)),
  recovery_ms_p50: percentile(recovery, 50),
  recovery_ms_max: recovery.at(-1) ?? null,
  load_events_per_s: rate,
  publish_window: WINDOW,
  duration_s: Math.round((Date.now() - started) / 1000),
};
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(join(RESULTS_DIR, "powercut.json"), JSON.stringify(result, null, 2) + "\n");
const md = `# Power cuts (bench/src/powercut.bench.ts)

${result.date}, ${result.server}, data dir on LazyFS (a cut drops every write not fsynced), load ${rate} events/s plus a worker crashing every 0.7 s.

| measure | value |
| --- | --- |
| cuts (SIGSTOP, clear-cache, kill -9, remount, start) | ${result.cuts} |
| events the load saw acknowledged | ${result.acked} |
| acked_lost | ${result.acked_lost} |
| acknowledged events stored twice | ${result.acked_duplicated} |
| commands_run_twice (more than one outcome) | ${result.commands_run_twice} |
| vigil up started by itself after every cut | ${result.started_by_itself_every_time} |
| recovery, power-on to "running" (p50 / max) | ${result.recovery_ms_p50} ms / ${result.recovery_ms_max} ms |
| publish_events_per_s_without (VIGIL_DURABILITY=off, own disk) | ${result.publish_events_per_s_without} |
| publish_events_per_s_with_barrier (own disk) | ${result.publish_events_per_s_with_barrier} (${result.with_over_without}×) |
| ack → covered by a barrier (p50 / p99) | ${result.barrier_p50_ms} ms / ${result.barrier_p99_ms} ms |

Publish rates: createPublisher with its outbox, ${WINDOW} publishes in flight, ${publishS} s each, both in this run.
`;
writeFileSync(join(RESULTS_DIR, "powercut.md"), md);
progress(JSON.stringify(result));
if (r.ackedLost > 0 || r.commandsRunTwice > 0 || !r.startedEachTime) process.exit(1);
