import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, decodeEvent, TYPE_PREFIX, type VigilEvent } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";
import { readCredential } from "./bus-auth.js";
import { mountLazyFs, powerCut, requireLazyFs } from "./powercut-harness.js";
import { POWERCUT_CLOUD_SECRET, PowerCutCloud } from "./powercut-cloud.js";

const LOAD_MAIN = join(dirname(fileURLToPath(import.meta.url)), "powercut-load.js");

export interface PowerCutOptions {
  cuts: number;
  /** Events per second of the test's own publisher. */
  rate: number;
  /** Today's behaviour: no barrier in vigil up, publishers do not hold (VIGIL_DURABILITY=off). */
  baseline?: boolean;
  /** Random time between power-on and the cut, ms. */
  minRunMs?: number;
  maxRunMs?: number;
  say?: (msg: string) => void;
}

export interface PowerCutResult {
  cuts: number;
  acked: number;
  ackedLost: number;
  lostIds: string[];
  /** Acked ids stored more than once. */
  duplicates: number;
  /** Commands with more than one outcome (out.worker.*): ran twice. */
  commandsRunTwice: number;
  /**
   * Decisions (dec.*, cmd.*) of one input and type stored under more than one id: a decider that
   * re-decided after a cut (redelivery, an older snapshot) would have made new ids. Target 0.
   */
  redecidedWithNewIds: number;
  /** Commands that have an outcome in the stream (so that commandsRunTwice counted something). */
  commandsWithOutcome: number;
  /** Power-on (mount done) to "vigil: running", ms, one per start after a cut. */
  recoveryMs: number[];
  /** Whether vigil up reached "running" by itself after every cut. */
  startedEachTime: boolean;
  streamMessages: number;
  /** Cuts made while the cloud was away (telemetry's backlog growing in the stream). */
  cloudOutageCuts: number;
  /** Acknowledged events published while the cloud was away: the backlog that must still reach it. */
  backlog: number;
  /** Of those, not at the cloud at the end (target 0). */
  backlogMissingAtCloud: number;
  /** Of every acknowledged event, not at the cloud at the end (target 0). */
  ackedMissingAtCloud: number;
}

/** Waits this long after the last power-on for telemetry to deliver everything to the cloud. */
const CLOUD_CATCH_UP_MS = 180_000;

type Load = { child: ChildProcess; acked: Set<string>; done: Promise<string> };

function startLoad(o: { url: string; user?: string; pass?: string; device: string; outboxDir: string; rate: number; hold: boolean; flushOnly?: boolean }, acked: Set<string>): Load {
  const child = spawn(process.execPath, [LOAD_MAIN, JSON.stringify(o)], { stdio: ["ignore", "pipe", "pipe"] });
  let buf = "";
  let all = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      all += l.startsWith("ACK ") ? "" : `${l}\n`;
      if (l.startsWith("ACK ")) acked.add(l.slice(4));
    }
  });
  child.stderr!.on("data", (d: Buffer) => (all += d.toString()));
  const done = new Promise<string>((r) => child.once("exit", (code, sig) => r(`load exited ${code ?? sig}: ${all.slice(-2000)}`)));
  return { child, acked, done };
}

/**
 * `vigil up` with its data dir (store, outboxes, executed-command ids) on LazyFS, load and crashing
 * workers, then `cuts` power cuts at random moments, each followed by power-on and a start by itself.
 * At the end: every id the load saw acknowledged must be in the stream once; no command twice; and
 * every one of them at the cloud, which was away for the middle third of the cuts (the backlog).
 */
export async function runPowerCuts(o: PowerCutOptions): Promise<PowerCutResult> {
  const say = o.say ?? (() => undefined);
  const bin = requireLazyFs();
  const root = mkdtempSync(join(tmpdir(), "vigil-powercut-"));
  const m = await mountLazyFs(bin, root);
  const device = "pc";
  const dataDir = join(m.mnt, "data");
  // The cloud keeps its power (own disk); it is away for the middle third of the cuts.
  const cloud = new PowerCutCloud(await freePort(), join(root, "cloud"), join(root, "cloud.log"));
  const outage = { from: Math.max(1, Math.floor(o.cuts / 3)), to: Math.max(2, Math.floor((2 * o.cuts) / 3)) };
  let beforeOutage = new Set<string>();
  let backlog: string[] = [];
  const cfg = writeConfig({
    device,
    dataDir,
    telemetry: { url: cloud.url, secret: POWERCUT_CLOUD_SECRET },
    health: { intervalMs: 1_000, anomaly: { enabled: false } },
    // Crashes every ~0.7 s: exits, decisions, restart commands and outcomes all the time.
    workers: [{ name: "crashy", command: "sh", args: ["-c", "sleep 0.7; exit 3"] }],
  });
  const env: NodeJS.ProcessEnv = o.baseline ? { VIGIL_DURABILITY: "off" } : {};
  const port = await freePort();
  const acked = new Set<string>();
  const recoveryMs: number[] = [];
  let startedEachTime = true;
  const loadOpts = (flushOnly: boolean) => {
    const admin = readCredential(dataDir, "admin");
    return { url: `nats://127.0.0.1:${port}`, user: admin?.user, pass: admin?.pass, device, outboxDir: join(dataDir, "powercut-load-outbox"), rate: o.rate, hold: !o.baseline, flushOnly };
  };
  const runFor = () => (o.minRunMs ?? 1_500) + Math.random() * ((o.maxRunMs ?? 4_000) - (o.minRunMs ?? 1_500));
  try {
    await cloud.start();
    for (let cut = 0; cut <= o.cuts; cut++) {
      if (cut === outage.from) (await cloud.stop(), (beforeOutage = new Set(acked)), say(`cloud away from power-on ${cut} to ${outage.to}`));
      if (cut === outage.to) (await cloud.start(), (backlog = [...acked].filter((id) => !beforeOutage.has(id))), say(`cloud back; backlog ${backlog.length} acked events`));
      const poweredOn = Date.now();
      let vigil;
      try {
        vigil = await vigilUpEmbedded(cfg, port, env, 120_000);
      } catch (err) {
        startedEachTime = false;
        throw new Error(`after cut ${cut}, vigil up did not start by itself: ${(err as Error).message.slice(-3000)}`);
      }
      if (cut > 0) recoveryMs.push(Date.now() - poweredOn);
      // What the previous cut left in the load's outbox goes out again first (as a restarted service's would).
      const flush = startLoad(loadOpts(true), acked);
      say(`power on ${cut}: ${await flush.done}`.split("\n")[0]!);
      if (cut === o.cuts) {
        try {
          const check = await checkStream(vigil.nats, acked);
          // Only what the stream has can still reach the cloud: a lost event (the baseline) is not waited for.
          const lost = new Set(check.lostIds);
          const missing = new Set(await cloud.waitFor([...acked].filter((id) => !lost.has(id)), CLOUD_CATCH_UP_MS));
          for (const id of lost) missing.add(id);
          const atCloud = { cloudOutageCuts: outage.to - outage.from, backlog: backlog.length, backlogMissingAtCloud: backlog.filter((id) => missing.has(id)).length, ackedMissingAtCloud: missing.size };
          return { cuts: o.cuts, acked: acked.size, recoveryMs, startedEachTime, ...check, lostIds: check.lostIds.slice(0, 20), ...atCloud };
        } finally {
          say(`stopped cleanly (${await vigil.stop()})`);
        }
      }
      const load = startLoad(loadOpts(false), acked);
      await new Promise((r) => setTimeout(r, runFor()));
      await powerCut(m, [vigil.child.pid!, load.child.pid!]);
      say(`cut ${cut + 1}/${o.cuts}: ${acked.size} acked so far`);
      await m.mount();
    }
    throw new Error("unreachable");
  } finally {
    await cloud.stop();
    await m.unmount().catch(() => undefined);
  }
}

/** Reads the whole stream after the last power-on: each acked id once, each command's outcome once. */
async function checkStream(nats: { url: string; user?: string; pass?: string }, acked: Set<string>): Promise<Pick<PowerCutResult, "ackedLost" | "lostIds" | "duplicates" | "commandsRunTwice" | "redecidedWithNewIds" | "commandsWithOutcome" | "streamMessages">> {
  {
    const nc = await connectBus(nats, "powercut-check");
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const info = await jsm.streams.info("VIGIL");
    const seen = new Map<string, number>();
    const outcomes = new Map<string, number>();
    /** `<causation> <type> <data>` of each decision: the ids it was stored under. */
    const decisionIds = new Map<string, Set<string>>();
    let n = 0;
    if (info.state.messages > 0) {
      const c = await jetstream(nc).consumers.get("VIGIL", { filter_subjects: "vigil.>" });
      const msgs = await c.consume({ max_messages: 1000 });
      for await (const msg of msgs) {
        n++;
        const e: VigilEvent | undefined = (() => {
          try {
            return decodeEvent(msg.subject, msg.data);
          } catch {
            return undefined;
          }
        })();
        if (e) {
          seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
          const name = e.type.slice(TYPE_PREFIX.length);
          if (/^(dec|cmd)\./.test(name) && e.causation) {
            // Two decisions of one input may share a type (other policy, worker): same data means the same decision.
            const k = `${e.causation} ${e.type} ${JSON.stringify(e.data)}`;
            decisionIds.set(k, (decisionIds.get(k) ?? new Set()).add(e.id));
          }
          // The name without TYPE_PREFIX (before 18 this compared the full type, so it never matched).
          if (name.startsWith("out.worker.")) {
            const cmd = (e.data as { command?: string }).command;
            if (cmd) outcomes.set(cmd, (outcomes.get(cmd) ?? 0) + 1);
          }
        }
        if (msg.info.pending === 0) break;
      }
      await msgs.close();
    }
    await nc.close();
    const lostIds = [...acked].filter((id) => !seen.has(id));
    return {
      ackedLost: lostIds.length,
      lostIds,
      duplicates: [...acked].filter((id) => (seen.get(id) ?? 0) > 1).length,
      commandsRunTwice: [...outcomes.values()].filter((c) => c > 1).length,
      redecidedWithNewIds: [...decisionIds.values()].filter((ids) => ids.size > 1).length,
      commandsWithOutcome: outcomes.size,
      streamMessages: n,
    };
  }
}
