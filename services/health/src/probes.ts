import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { baseEnv, type ProbeConfig } from "@vigil/events";

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

const MAX_BODY = 64 * 1024;

function httpProbe(p: NonNullable<ProbeConfig["http"]>, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  const done = (ok: boolean, error?: string): ProbeResult => ({ ok, latencyMs: performance.now() - t0, ...(error ? { error } : {}) });
  return new Promise((resolve) => {
    const req = (p.url.startsWith("https:") ? httpsRequest : httpRequest)(p.url, { method: "GET", timeout: timeoutMs, headers: { "user-agent": "vigil-health-probe", connection: "close" } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < MAX_BODY) chunks.push(c);
        size += c.length;
      });
      res.on("error", (err) => resolve(done(false, `response: ${err.message}`)));
      res.on("end", () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const okStatus = p.status ? p.status.includes(status) : status >= 200 && status < 400;
        const r = done(okStatus, okStatus ? undefined : `HTTP ${status}${p.status ? ` (expected ${p.status.join(" or ")})` : ""}`);
        if (r.ok && p.maxLatencyMs !== undefined && r.latencyMs > p.maxLatencyMs) return resolve({ ...r, ok: false, error: `answered in ${r.latencyMs.toFixed(0)} ms, above maxLatencyMs ${p.maxLatencyMs}` });
        if (r.ok && p.bodyMatch && !new RegExp(p.bodyMatch).test(Buffer.concat(chunks).toString("utf8").slice(0, MAX_BODY))) {
          return resolve({ ...r, ok: false, error: `body does not match /${p.bodyMatch}/` });
        }
        resolve(r);
      });
    });
    // The socket timeout covers idle time; this one the whole exchange.
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => {
      clearTimeout(timer);
      resolve(done(false, (err as NodeJS.ErrnoException).code && !/within/.test(err.message) ? `${(err as NodeJS.ErrnoException).code}: ${err.message}` : err.message));
    });
    req.end();
  });
}

function tcpProbe(p: NonNullable<ProbeConfig["tcp"]>, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = connect({ host: p.host, port: p.port });
    const finish = (ok: boolean, error?: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, latencyMs: performance.now() - t0, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false, `no connection within ${timeoutMs} ms`), timeoutMs);
    sock.once("connect", () => finish(true));
    sock.once("error", (err: NodeJS.ErrnoException) => finish(false, `${err.code ?? "error"}: ${err.message}`));
  });
}

/** Runs the declared program (argv from config only, no shell); exit code 0 passes. */
function execProbe(p: NonNullable<ProbeConfig["exec"]>, timeoutMs: number, cwd?: string): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, latencyMs: performance.now() - t0, ...(error ? { error } : {}) });
    };
    // A clean environment: the health service's own holds its bus password (docs/security.md).
    const child = spawn(p.command, p.args, { cwd, env: baseEnv(process.env), stdio: "ignore", shell: false });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(false, `${p.command} did not finish within ${timeoutMs} ms`);
    }, timeoutMs);
    child.once("error", (err: NodeJS.ErrnoException) => finish(false, `${p.command}: ${err.code ?? err.message}`));
    child.once("exit", (code, signal) => finish(code === 0, code === 0 ? undefined : `${p.command} exited with ${signal ?? `code ${code}`}`));
  });
}

/** Runs one probe attempt; never rejects. */
export function runProbe(p: ProbeConfig, opts: { cwd?: string } = {}): Promise<ProbeResult> {
  if (p.http) return httpProbe(p.http, p.timeoutMs);
  if (p.tcp) return tcpProbe(p.tcp, p.timeoutMs);
  if (p.exec) return execProbe(p.exec, p.timeoutMs, opts.cwd);
  return Promise.resolve({ ok: false, latencyMs: 0, error: "no probe kind configured" });
}

export interface ProbeState {
  failures: number;
  successes: number;
  failing: boolean;
}

export const initialProbeState: ProbeState = { failures: 0, successes: 0, failing: false };

/**
 * Pure: folds one result. `failed` when consecutive failures reach failureThreshold (and again at
 * every further multiple, so a restart that did not help is reported again); `recovered` when a
 * failing probe passes successThreshold times in a row.
 */
export function stepProbe(s: ProbeState, ok: boolean, p: Pick<ProbeConfig, "failureThreshold" | "successThreshold">): { state: ProbeState; emit?: "failed" | "recovered" } {
  if (ok) {
    const successes = s.successes + 1;
    if (s.failing && successes >= p.successThreshold) return { state: { failures: 0, successes, failing: false }, emit: "recovered" };
    return { state: { ...s, failures: s.failing ? s.failures : 0, successes } };
  }
  const failures = s.failures + 1;
  const emit = failures % p.failureThreshold === 0 ? "failed" : undefined;
  return { state: { failures, successes: 0, failing: s.failing || emit === "failed" }, ...(emit ? { emit } : {}) };
}
