import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestNatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** SIGTERM and wait; the store is kept so restart() resumes it. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Start again on the same port and store. */
  restart(): Promise<void>;
  /** Stop and delete the store. */
  cleanup(): Promise<void>;
}

/**
 * A port that is free now and that the kernel will not hand to anyone else meanwhile: chosen at
 * random *below* the ephemeral range (ip_local_port_range, 32768–60999 by default). A port from
 * listen(0) is an ephemeral one, and between this call and the test's server binding it, any
 * outgoing connection of another test could take it (a fleet e2e saw its device's nats-server fail
 * that way in CI). Below the range only another explicit choice can collide: 1 in ~20,000.
 */
export async function freePort(): Promise<number> {
  const ceiling = ephemeralLow();
  for (let i = 0; i < 50; i++) {
    const port = FIRST_CHOSEN_PORT + Math.floor(Math.random() * Math.max(1, ceiling - FIRST_CHOSEN_PORT));
    if (await canListen(port)) return port;
  }
  return listenPort(0);
}

const FIRST_CHOSEN_PORT = 10_000;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_CHOSEN_PORT + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const canListen = (port: number): Promise<boolean> => listenPort(port).then(() => true, () => false);

function listenPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const a = srv.address();
      const got = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(got));
    });
  });
}

export function natsServerBinary(): string {
  return process.env.VIGIL_NATS_SERVER ?? "nats-server";
}

/**
 * Starts a real `nats-server -js` on a free loopback port with a temp store dir. Fails with a message
 * saying how to install nats-server when it is missing.
 */
export async function startNatsServer(opts: { port?: number; storeDir?: string; args?: string[] } = {}): Promise<TestNatsServer> {
  const port = opts.port ?? (await freePort());
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "vigil-nats-"));
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    const bin = natsServerBinary();
    const c = spawn(bin, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir, ...(opts.args ?? [])], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = c;
    await new Promise<void>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`nats-server did not become ready in 10 s:\n${log}`)), 10_000);
      c.on("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${bin} (${(err as NodeJS.ErrnoException).code}): install it with 'apt-get install -y nats-server' or set VIGIL_NATS_SERVER`));
      });
      c.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log}`));
      });
      c.stderr!.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          c.removeAllListeners("exit");
          c.stderr!.removeAllListeners("data");
          c.stderr!.resume();
          resolve();
        }
      });
    });
  }

  async function end(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill(signal);
    });
  }

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    restart: async () => {
      await end("SIGTERM");
      await launch();
    },
    cleanup: async () => {
      await end("SIGTERM");
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
