import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import { join } from "node:path";

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
  stop(): Promise<void>;
}

/** Starts nats-server with JetStream on loopback, its store and log in the data dir; resolves when it is ready. */
export async function startEmbeddedNats(
  bin: string,
  opts: { port: number; dataDir: string; name: string; /** A generated config (fleet: leaf node + domain) instead of flags. */ configFile?: string; monitorPort?: number },
): Promise<EmbeddedNats> {
  const store = join(opts.dataDir, "nats");
  const logs = join(opts.dataDir, "logs");
  mkdirSync(store, { recursive: true });
  mkdirSync(logs, { recursive: true });
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
      } else if (Date.now() - started > 15_000) {
        clearInterval(poll);
        child.kill("SIGKILL");
        reject(new Error(`nats-server did not become ready in 15 s; see ${logFile}`));
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
  return {
    url: `nats://127.0.0.1:${opts.port}`,
    child,
    logFile,
    monitorUrl: opts.monitorPort ? `http://127.0.0.1:${opts.monitorPort}` : undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        // Stopped by its owner: nothing left to watch (the group: the shell and its `sleep`).
        try {
          if (watchdog.pid) process.kill(-watchdog.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
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
