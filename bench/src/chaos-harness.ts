// The chaos run's harness (chaos.ts): the sink it owns, the load, and reading back the stream and the logs.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { BUS_SERVICES, CLOUDEVENTS_CONTENT_TYPE, encodeEvent, makeEvent } from "@vigil/events";
import { freePort, startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { checkDelivery, checkRecovery, classifyErrors, planFaults, prng, round1, rssGrowth, type FaultKind, type LogLine, type RssSeries, type StreamEntry } from "./chaos-checks.js";
import { allProcs, rssMb, stillAlive, vigilTree, type ProcInfo } from "./chaos-procs.js";
import { choiceOption, positiveNumber } from "./lib/options.js";
import { SinkProcess } from "@vigil/sink";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = resolve(HERE, "..");
export const REPO = resolve(BENCH_DIR, "..");
export const RESULTS_DIR = join(BENCH_DIR, "results");
export const VIGIL_MAIN = join(REPO, "packages", "vigil", "dist", "main.js");
// Every service vigil up runs (each has its own bus user).
export const SERVICES = BUS_SERVICES;
export const DEVICE = "chaos-001";
export const SECRET = "chaos-secret-0123456789abcdef";
export const WORKERS = ["crashy-a", "crashy-b"];
export const RATE = 1_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The local cloud as a process on a fixed port (packages/sink's SinkProcess), with faults on: stopped and started again for outages. */
export function chaosSink(port: number, dataDir: string, logFile: string): SinkProcess {
  return new SinkProcess({ port, dataDir, logFile, secret: SECRET, faults: true });
}

/** 1,000 events/s of `obs.demo.reading`, paced against the clock; publishes that fail are counted, not retried. */
export function startLoad(nc: NatsConnection) {
  const js = jetstream(nc);
  const h = headers();
  h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
  const stats = { generated: 0, acked: 0, failed: 0, skipped: 0, inflight: 0 };
  /** What the server confirmed: each of these must be in the stream at the end. */
  const ackedIds = new Set<string>();
  const started = Date.now();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((Date.now() - started) / 1000) * RATE) - stats.generated - stats.skipped;
    for (let i = 0; i < due; i++) {
      // Bounded: while the server is away, the client buffers; past this the tick's events are never made.
      if (stats.inflight >= 5_000) {
        stats.skipped += due - i;
        break;
      }
      const e = makeEvent(DEVICE, `vigil/${DEVICE}/chaos-load`, "obs.demo.reading", { sensor: "load", seq: stats.generated, value: Math.random() });
      stats.generated++;
      stats.inflight++;
      js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout: 5_000 }).then(
        () => {
          ackedIds.add(e.id);
          stats.acked++;
          stats.inflight--;
        },
        () => {
          stats.failed++;
          stats.inflight--;
        },
      );
    }
  };
  const timer = setInterval(tick, 50);
  return {
    stats,
    ackedIds,
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (stats.inflight > 0) await sleep(100);
    },
  };
}

export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 1_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await pred()) return;
    } catch {
      /* not yet reachable */
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The whole stream under the filter, in order, reduced to what the checks need. */
export async function readStream(nc: NatsConnection, filter: string): Promise<Array<StreamEntry & { time: string }>> {
  const js = jetstream(nc);
  // One filter as a string: a 2.9 server takes no list (filter_subjects is 2.10).
  const c = await js.consumers.get("VIGIL", { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const out: Array<StreamEntry & { time: string }> = [];
  const info = await c.info(true);
  if (info.num_pending === 0) return out;
  const msgs = await c.consume({ max_messages: 2_000 });
  for await (const m of msgs) {
    const e = m.json<{ id: string; type: string; time: string; data: Record<string, unknown> }>();
    out.push({ seq: m.seq, id: e.id, type: e.type, time: e.time, data: e.data });
    if (m.info.pending === 0) break;
  }
  msgs.stop();
  return out;
}

export function scanLogs(dir: string): LogLine[] {
  const out: LogLine[] = [];
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".log"))) {
    for (const text of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (!text.startsWith("{")) continue;
      try {
        const l = JSON.parse(text) as { level?: number; msg?: string };
        if (typeof l.level === "number" && l.level >= 50) out.push({ file: f, level: l.level, msg: l.msg ?? "", text: text.slice(0, 600) });
      } catch {
        /* a partial line written as the process was killed */
      }
    }
  }
  return out;
}
