import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** This package's own program (dist/main.js beside this file). */
export const SINK_MAIN = join(dirname(fileURLToPath(import.meta.url)), "main.js");

export interface SinkProcessOptions {
  port: number;
  dataDir: string;
  /** The sink's stderr (its log) is appended here. */
  logFile: string;
  /** The HMAC secret uploads are signed with (VIGIL_SINK_SECRET). */
  secret: string;
  /** Accept `POST/DELETE /faults` (tests and benches inject 503s, hangs …). */
  faults?: boolean;
}

/**
 * The sink as a process of its own on a fixed port, for tests and benches that stop the cloud for an
 * outage and start it again on the same port (chaos, soak, power cut): its store survives the restart.
 */
export class SinkProcess {
  private child?: ChildProcess;
  constructor(readonly o: SinkProcessOptions) {}
  get port(): number {
    return this.o.port;
  }
  get base(): string {
    return `http://127.0.0.1:${this.o.port}`;
  }
  get url(): string {
    return `${this.base}/v1/events`;
  }
  /** Resolves once it listens (it prints its address as JSON); rejects naming the log if it exits first. */
  async start(): Promise<void> {
    const out = openSync(this.o.logFile, "a");
    const args = [SINK_MAIN, "--port", String(this.o.port), "--data-dir", this.o.dataDir, ...(this.o.faults ? ["--faults"] : [])];
    const child = spawn(process.execPath, args, { env: { ...process.env, VIGIL_SINK_SECRET: this.o.secret }, stdio: ["ignore", "pipe", out] });
    closeSync(out);
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let text = "";
      child.stdout!.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("{")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`the sink exited with ${code}; see ${this.o.logFile}`)));
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
  /** Sets (or with undefined clears) the injected faults; needs `faults: true`. */
  async faults(body: object | undefined): Promise<void> {
    const r = await fetch(`${this.base}/faults`, body ? { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } } : { method: "DELETE" });
    if (!r.ok) throw new Error(`sink /faults answered ${r.status}: ${await r.text()}`);
  }
  async counts(): Promise<Record<string, number>> {
    return (await (await fetch(`${this.base}/counts`)).json()) as Record<string, number>;
  }
  /** Every stored event's id, in the order stored (each once: the sink de-duplicates). */
  async ids(): Promise<string[]> {
    const ids: string[] = [];
    let after = -1;
    for (;;) {
      const r = (await (await fetch(`${this.base}/events?after=${after}&limit=100000`)).json()) as { events: Array<{ index: number; event: { id: string } }>; next: number };
      if (r.events.length === 0) return ids;
      for (const e of r.events) ids.push(e.event.id);
      after = r.next;
    }
  }
}
