/**
 * Sub-millisecond timestamps along a restart's path, for the recovery bench's "where the time goes"
 * table (bench/src/recovery-trace.ts, issue 13). Off unless `VIGIL_TRACE_TIMING=1` is in a service's
 * environment: then each point writes one JSON line `{"trace": label, "at": epoch ms with µs, ...}`
 * to stderr, i.e. into the service's log. Off, a point costs one boolean test.
 * `at` is performance.timeOrigin + performance.now(): comparable across processes on one machine.
 */
const on = process.env.VIGIL_TRACE_TIMING === "1";

export function traceAt(label: string, extra?: Record<string, unknown>): void {
  if (on) process.stderr.write(JSON.stringify({ trace: label, at: performance.timeOrigin + performance.now(), ...extra }) + "\n");
}

/** Whether tracing is on in this process (to skip building a point's details when it is off). */
export const tracing = (): boolean => on;
