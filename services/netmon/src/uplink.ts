import { connect } from "node:net";

/** One TCP connect to the cloud endpoint: the latency, or why it failed. */
export function probeUplink(host: string, port: number, timeoutMs: number): Promise<{ ok: true; latencyMs: number } | { ok: false; error: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: { ok: true; latencyMs: number } | { ok: false; error: string }) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, error: `no answer from ${host}:${port} within ${timeoutMs} ms` }), timeoutMs);
    s.once("connect", () => done({ ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 }));
    s.once("error", (err: NodeJS.ErrnoException) => done({ ok: false, error: `${host}:${port}: ${err.code ?? err.message}` }));
  });
}
