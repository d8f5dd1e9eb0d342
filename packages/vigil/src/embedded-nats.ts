import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { readDurableRecord, setAsideDamagedBlocks, type StoreDamage } from "./store-damage.js";

export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = "UsageError";
  }
}

export const INSTALL_NATS_HINT = `nats-server was not found. Install it, then run this again:
  Debian/Ubuntu:  sudo apt-get install -y nats-server
  macOS:          brew install nats-server
  any system:     download a release from https://github.com/nats-io/nats-server/releases
Or point Vigil at it: VIGIL_NATS_SERVER=/path/to/nats-server, or at a running server: VIGIL_NATS_URL=nats://host:4222`;

/** `VIGIL_NATS_SERVER`, else `nats-server` on PATH; throws a UsageError that says how to install it. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): { bin: string; version: string } {
  const bin = env.VIGIL_NATS_SERVER || "nats-server";
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new UsageError(INSTALL_NATS_HINT);
  return { bin, version: r.stdout.trim() };
}

export interface EmbeddedNats {
  url: string;
  child: ChildProcess;
  /** The server's log (nats-server.log in the data dir). */
  logFile?: string;
  /** http://127.0.0.1:<port> when started with a config file that opens the monitoring port (fleet). */
  monitorUrl?: string;
  /** Torn or truncated store blocks found before the server started (store-damage.ts): vigil up reports each as sys.store.damaged. */
  damage: StoreDamage[];
  stop(): Promise<void>;
}

/** vigil up's record of the highest sequence its barrier announced (durability-barrier.ts writes it). */
export const durableRecordFile = (dataDir: string) => join(dataDir, "nats-durable.json");

/**
 * Before the server reads its store: a damaged block is copied to <dataDir>/nats-damaged/<time>/
 * and its loss counted (the server then recovers the readable part silently). A scan that fails
 * (a file gone meanwhile, no permission) must not keep the bus from starting: it reports nothing.
 */
function checkStore(dataDir: string, store: string): StoreDamage[] {
  try {
    const rec = readDurableRecord(durableRecordFile(dataDir));
    const aside = join(dataDir, "nats-damaged", new Date().toISOString().replace(/[:.]/g, "-"));
    return setAsideDamagedBlocks(store, aside, (stream) => (rec?.stream === stream ? rec.seq : undefined));
  } catch {
    return [];
  }
}

type EmbeddedNatsOptions = { port: number; dataDir: string; name: string; /** A generated config (fleet: leaf node + domain) instead of flags. */ configFile?: string; monitorPort?: number };

/** A big JetStream store takes a while to recover at start (a 1 GB stream on 2.9: seconds). */
const READY_TIMEOUT_MS = 60_000;

/** Starts nats-server with JetStream on loopback, its store and log in the data dir; resolves when it is ready. */
export async function startEmbeddedNats(
  bin: string,
  opts: EmbeddedNatsOptions,
): Promise<EmbeddedNats & { /** Stops its watchdog (the server is gone or being stopped). */ release(): void }> {
  const store = join(opts.dataDir, "nats");
  const logs = join(opts.dataDir, "logs");
  mkdirSync(store, { recursive: true });
  mkdirSync(logs, { recursive: true });
  const damage = checkStore(opts.dataDir, store);
  const logFile = join(logs, "nats-server.log");
  const out = openSync(logFile, "a");
  const args = opts.configFile
    ? ["-c", opts.configFile, "-l", logFile]
    : ["-js", "-a", "127.0.0.1", "-p", String(opts.port), "-sd", store, "-n", opts.name, "-l", logFile];
  // Own process group: a Ctrl-C must not take the bus down before the services have stopped.
  const child = spawn(bin, args, { stdio: ["ignore", out, out], detached: true });
  closeSync(out);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      let log = "";
      try {
        log = readFileSync(logFile, "utf8");
      } catch {
        /* not yet */
      }
      const tail = log.slice(-4000);
      if (tail.includes(`Listening for client connections on 127.0.0.1:${opts.port}`) && tail.lastIndexOf("Server is ready") > tail.lastIndexOf("Starting nats-server")) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > READY_TIMEOUT_MS) {
        clearInterval(poll);
        child.kill("SIGKILL");
        reject(new Error(`nats-server did not become ready in ${READY_TIMEOUT_MS / 1000} s; see ${logFile}`));
      }
    }, 20);
    child.once("exit", (code) => {
      clearInterval(poll);
      let log = "";
      try {
        log = readFileSync(logFile, "utf8").split("\n").slice(-6).join("\n");
      } catch {
        /* none */
      }
      reject(new UsageError(`nats-server exited with code ${code} at start (is port ${opts.port} in use? try --port):\n${log}`, 1));
    });
  });
  child.removeAllListeners("exit");
  const watchdog = watchOwner(process.pid, child.pid!, OWNER_GONE_GRACE_S);
  // Nothing left to watch (the group: the shell and its `sleep`). Also when the server died: the
  // watchdog must not signal its pid later, when that pid may be someone else's.
  const release = () => {
    try {
      if (watchdog.pid) process.kill(-watchdog.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  return {
    url: `nats://127.0.0.1:${opts.port}`,
    child,
    logFile,
    damage,
    monitorUrl: opts.monitorPort ? `http://127.0.0.1:${opts.monitorPort}` : undefined,
    release,
    stop: () =>
      new Promise<void>((resolve) => {
        release();
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

/** Seconds the services get to stop their workers and drain after `vigil up` is gone, before the bus goes. */
const OWNER_GONE_GRACE_S = 5;

/**
 * The server runs in its own process group (a Ctrl-C must reach vigil up first), so a `kill -9` of
 * vigil up would leave it running. A shell loop (a few hundred kB, no Node) outlives vigil up and
 * stops the server gracefully once its owner is gone and the services have had time to stop.
 */
function watchOwner(ownerPid: number, serverPid: number, graceS: number): ChildProcess {
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; sleep "$3"; kill -TERM "$2" 2>/dev/null';
  const w = spawn("sh", ["-c", script, "vigil-nats-watchdog", String(ownerPid), String(serverPid), String(graceS)], { stdio: "ignore", detached: true });
  w.on("error", () => undefined); // no sh: the server is then only stopped by vigil up itself
  w.unref();
  return w;
}

/**
 * The embedded server, restarted with backoff if it dies while vigil up runs (crash, OOM killer,
 * kill -9): the bus is part of what Vigil heals. Same port, config and store, so the services'
 * connections reconnect on their own and their outboxes deliver what they kept meanwhile.
 */
export async function keepEmbeddedNats(bin: string, opts: EmbeddedNatsOptions, say: (msg: string) => void): Promise<EmbeddedNats> {
  let current = await startEmbeddedNats(bin, opts);
  let stopped = false;
  let failures = 0;
  let startedAt = Date.now();
  const backoff = () => Math.min(10_000, 250 * 2 ** Math.min(failures++, 6));
  const restart = async () => {
    if (stopped) return;
    try {
      current = await startEmbeddedNats(bin, opts);
      startedAt = Date.now();
      say(`nats-server restarted at ${current.url} (pid ${current.child.pid})`);
      for (const d of current.damage) say(`store: ${d.file} was damaged (${d.reason}); ${d.lostCount} message(s) lost; original copied to ${d.movedTo}`);
      watch(current);
    } catch (err) {
      const delay = backoff();
      say(`nats-server did not restart: ${(err as Error).message.split("\n")[0]}; trying again in ${delay} ms`);
      setTimeout(() => void restart(), delay);
    }
  };
  const watch = (n: typeof current) =>
    n.child.once("exit", (code, signal) => {
      n.release();
      if (stopped) return;
      if (Date.now() - startedAt > 60_000) failures = 0; // it had been stable: start the backoff over
      const delay = backoff();
      say(`nats-server died (${signal ?? `code ${code}`}); restarting it in ${delay} ms — log: ${n.logFile}`);
      setTimeout(() => void restart(), delay);
    });
  watch(current);
  return {
    url: current.url,
    get child() {
      return current.child;
    },
    logFile: current.logFile,
    monitorUrl: current.monitorUrl,
    damage: current.damage,
    stop: async () => {
      stopped = true;
      await current.stop();
    },
  };
}

/** `nats-server: v2.9.10` → [2, 9, 10]; undefined when the text says no version. */
export function parseServerVersion(text: string): [number, number, number] | undefined {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export interface StoreDurability {
  /** Lines for the `jetstream { }` block. */
  lines: string[];
  /** What vigil up says at start about how the store is made durable. */
  summary: string;
}

/**
 * How the embedded server's store is made durable (docs/durability.md). Always: vigil up's own
 * durability barrier (durability-barrier.ts). Servers that know `sync_interval` (2.10+) also get a
 * short one, so even events from tools that ignore the barrier are on disk within it (`always`
 * fsyncs every write: about 70× slower measured here, so only on request: VIGIL_NATS_SYNC_INTERVAL).
 * 2.9 refuses the option, so it never gets it. A store whose file system reports no free space
 * (FUSE, e.g. LazyFS) needs an explicit max_file_store, or stream creation fails ("insufficient storage").
 */
export function storeDurability(version: string, o: { freeBytes: number; streamMaxBytes: number; env?: NodeJS.ProcessEnv }): StoreDurability {
  const env = o.env ?? process.env;
  const v = parseServerVersion(version);
  const knowsSyncInterval = !!v && (v[0] > 2 || (v[0] === 2 && v[1] >= 10));
  const lines: string[] = [];
  let summary = "durability barrier every 25 ms (fsync of the store by vigil up)";
  if (knowsSyncInterval) {
    const interval = env.VIGIL_NATS_SYNC_INTERVAL || "1s";
    lines.push(`  sync_interval: ${JSON.stringify(interval)}`);
    summary += ` + server sync_interval ${interval}`;
  } else {
    summary += `; ${version.replace(/^nats-server:\s*/, "")} has no sync_interval (it fsyncs by itself only every 2 min)`;
  }
  const given = env.VIGIL_NATS_MAX_FILE_STORE;
  if (given || o.freeBytes <= 0) {
    // The stream's own limit plus room for the decider's KV and consumer state.
    const bytes = given ? given : String(Math.max(o.streamMaxBytes > 0 ? o.streamMaxBytes * 2 : 0, 10 * 1024 ** 3));
    lines.push(`  max_file_store: ${bytes}`);
    summary += `; max_file_store ${bytes}${given ? "" : " (the store's file system reports no free space)"}`;
  }
  return { lines, summary };
}

/** Free bytes of the file system holding `dir` (0 when it says none, as FUSE file systems may). */
export function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}

/** Adds `lines` to the `jetstream { }` block of a generated server config, right after its store_dir. */
export function withJetStreamLines(config: string, lines: string[]): string {
  if (lines.length === 0) return config;
  const at = config.search(/^\s*store_dir:.*$/m);
  if (at < 0) throw new Error("the generated nats-server config has no store_dir line in its jetstream block");
  const end = config.indexOf("\n", at);
  return `${config.slice(0, end + 1)}${lines.join("\n")}\n${config.slice(end + 1)}`;
}
