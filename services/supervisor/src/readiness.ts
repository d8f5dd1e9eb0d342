import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { Readable } from "node:stream";
import type { ProbeConfig, ReadyConfig } from "@vigil/events";

/**
 * When a started worker is ready for its dependents (`ready:` in the config): a line of its stdout
 * matching a pattern, a delay, or its probe passing once. The supervisor checks the probe itself
 * here (once, until it first passes): the health service's probing goes on as before.
 */

export class NotReady extends Error {
  override name = "NotReady";
}

/** Resolves when `ready` holds for this run; rejects on `timeoutMs`, or when `exited` resolves first. */
export function whenReady(ready: ReadyConfig | undefined, run: { stdout?: Readable; probe?: ProbeConfig; exited: Promise<void>; worker: string }): Promise<void> {
  if (!ready) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const cleanups: Array<() => void> = [];
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      for (const c of cleanups) c();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new NotReady(`${run.worker} not ready after ${ready.timeoutMs} ms (${describeReady(ready)})`)), ready.timeoutMs);
    cleanups.push(() => clearTimeout(timer));
    void run.exited.then(() => finish(new NotReady(`${run.worker} exited before it was ready (${describeReady(ready)})`)));
    if (ready.delayMs !== undefined) {
      const t = setTimeout(() => finish(), ready.delayMs);
      cleanups.push(() => clearTimeout(t));
    } else if (ready.stdout !== undefined && run.stdout) {
      cleanups.push(onLine(run.stdout, (line) => new RegExp(ready.stdout!).test(line) && finish()));
    } else if (ready.probe && run.probe) {
      cleanups.push(untilProbePasses(run.probe, () => finish()));
    }
  });
}

export function describeReady(r: ReadyConfig): string {
  return r.delayMs !== undefined ? `delay ${r.delayMs} ms` : r.stdout !== undefined ? `stdout /${r.stdout}/` : "probe passing";
}

/** Calls `f` for each line of `stream`; returns the unsubscribe. */
function onLine(stream: Readable, f: (line: string) => void): () => void {
  let rest = "";
  const onData = (chunk: Buffer) => {
    const lines = (rest + chunk.toString("utf8")).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) f(l);
  };
  stream.on("data", onData);
  return () => stream.off("data", onData);
}

/** Runs the probe every periodMs until it passes once; returns the stop. */
function untilProbePasses(p: ProbeConfig, passed: () => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = async () => {
    if (stopped) return;
    if (await probeOnce(p)) return passed();
    if (!stopped) timer = setTimeout(() => void attempt(), p.periodMs);
  };
  timer = setTimeout(() => void attempt(), p.initialDelayMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** One check of a worker's probe: an HTTP answer in the accepted range, a TCP connect, or an exit code 0. */
export async function probeOnce(p: ProbeConfig): Promise<boolean> {
  const signal = AbortSignal.timeout(p.timeoutMs);
  try {
    if (p.http) {
      const r = await fetch(p.http.url, { signal, redirect: "manual" });
      await r.body?.cancel();
      return p.http.status ? p.http.status.includes(r.status) : r.status >= 200 && r.status < 400;
    }
    if (p.tcp) {
      const { host, port } = p.tcp;
      return await new Promise<boolean>((resolve) => {
        const s = connect({ host, port, signal }, () => (s.destroy(), resolve(true)));
        s.once("error", () => resolve(false));
      });
    }
    if (p.exec) {
      const { command, args } = p.exec;
      // A clean environment, as the health service's exec probes (docs/security.md).
      return await new Promise<boolean>((resolve) => {
        const c = spawn(command, args, { stdio: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, signal });
        c.once("error", () => resolve(false));
        c.once("exit", (code) => resolve(code === 0));
      });
    }
  } catch {
    return false;
  }
  return false;
}
