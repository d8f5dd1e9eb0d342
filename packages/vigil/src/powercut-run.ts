import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, decodeEvent, type VigilEvent } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";
import { readCredential } from "./bus-auth.js";
import { mountLazyFs, powerCut, requireLazyFs } from "./powercut-harness.js";

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
  /** Power-on (mount done) to "vigil: running", ms, one per start after a cut. */
  recoveryMs: number[];
  /** Whether vigil up reached "running" by itself after every cut. */
  startedEachTime: boolean;
  streamMessages: number;
}

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
 * At the end: every id the load saw acknowledged must be in the stream once; no command twice.
 */
export async function runPowerCuts(o: PowerCutOptions): Promise<PowerCutResult> {
  const say = o.say ?? (() => undefined);
  const bin = requireLazyFs();
  const root = mkdtempSync(join(tmpdir(), "vigil-powercut-"));
  const m = await mountLazyFs(bin, root);
  const device = "pc";
  const dataDir = join(m.mnt, "data");
  const cfg = writeConfig({
    device,
    dataDir,
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
    for (let cut = 0; cut <= o.cuts; cut++) {
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
          return { cuts: o.cuts, acked: acked.size, recoveryMs, startedEachTime, ...check };
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
    await m.unmount().catch(() => undefined);
  }
}

/** Reads the whole stream after the last power-on: each acked id once, each command's outcome once. */
async function checkStream(nats: { url: string; user?: string; pass?: string }, acked: Set<string>): Promise<Omit<PowerCutResult, "cuts" | "acked" | "recoveryMs" | "startedEachTime">> {
  {
    const nc = await connectBus(nats, "powercut-check");
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const info = await jsm.streams.info("VIGIL");
    const seen = new Map<string, number>();
    const outcomes = new Map<string, number>();
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
          if (e.type.startsWith("out.worker.")) {
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
      lostIds: lostIds.slice(0, 20),
      duplicates: [...acked].filter((id) => (seen.get(id) ?? 0) > 1).length,
      commandsRunTwice: [...outcomes.values()].filter((c) => c > 1).length,
      streamMessages: n,
    };
  }
}
