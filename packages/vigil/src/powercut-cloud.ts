import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const SINK_MAIN = join(dirname(require.resolve("@vigil/sink/package.json")), "dist", "main.js");

/** The shared secret of the power-cut test's cloud (telemetry signs with it). */
export const POWERCUT_CLOUD_SECRET = "powercut-cloud-secret-0123456789";

/**
 * The power-cut test's cloud (packages/sink) on the machine's own disk, not on LazyFS: the cloud is
 * elsewhere and keeps its power. It is stopped for an outage (telemetry builds a backlog in the
 * stream) and started again on the same port, so the backlog has to survive the cuts to arrive.
 */
export class PowerCutCloud {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
  ) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/events`;
  }
  async start(): Promise<void> {
    const out = openSync(this.logFile, "a");
    const child = spawn(process.execPath, [SINK_MAIN, "--port", String(this.port), "--data-dir", this.dataDir], { env: { ...process.env, VIGIL_SINK_SECRET: POWERCUT_CLOUD_SECRET }, stdio: ["ignore", "pipe", out] });
    closeSync(out);
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let text = "";
      child.stdout!.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("{")) resolve(); // the sink prints its address as JSON once it listens
      });
      child.once("exit", (code) => reject(new Error(`the power-cut test's cloud (sink) exited with ${code}; see ${this.logFile}`)));
    });
    child.removeAllListeners("exit");
    child.stdout!.resume();
  }
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((r) => {
      c.once("exit", () => r());
      c.kill("SIGTERM");
    });
  }
  /** Every event id the cloud has stored. */
  async ids(): Promise<Set<string>> {
    const ids = new Set<string>();
    let after = -1;
    for (;;) {
      const r = (await (await fetch(`http://127.0.0.1:${this.port}/events?after=${after}&limit=100000`)).json()) as { events: Array<{ index: number; event: { id: string } }>; next: number };
      if (r.events.length === 0) return ids;
      for (const e of r.events) ids.add(e.event.id);
      after = r.next;
    }
  }
  /** Waits until every id of `wanted` is at the cloud or `timeoutMs` passed; returns the ids still missing. */
  async waitFor(wanted: Iterable<string>, timeoutMs: number): Promise<string[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const have = await this.ids();
      const missing = [...wanted].filter((id) => !have.has(id));
      if (missing.length === 0 || Date.now() > end) return missing;
      await new Promise((r) => setTimeout(r, 250)); // the cloud has no feed to wait on: ask again
    }
  }
}
