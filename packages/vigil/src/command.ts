import { UsageError } from "./embedded-nats.js";
import { gatewayClient, type GatewayTarget } from "./gateway-client.js";

export const WORKER_COMMANDS = ["restart", "pause", "resume", "kill", "start", "stop"] as const;
export type WorkerCommand = (typeof WORKER_COMMANDS)[number];

/**
 * `vigil restart|pause|resume|kill <worker>`: sends the command through the gateway (which records the
 * token's name as `requestedBy`) and waits for the supervisor's outcome.
 */
export async function workerCommand(action: WorkerCommand, worker: string | undefined, o: GatewayTarget & { json: boolean; reason?: string }): Promise<number> {
  if (!worker) throw new UsageError(`usage: vigil ${action} <worker>`);
  const gw = gatewayClient(o);
  const r = await gw.post("/api/commands", { action, worker, wait: true, ...(o.reason ? { reason: o.reason } : {}) });
  if (r.status >= 400) {
    const e = r.body?.error ?? {};
    throw new UsageError(`${action} ${worker}: ${e.message ?? `HTTP ${r.status}`}`, r.status === 404 || r.status === 400 ? 2 : 1);
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(r.body, null, 2) + "\n");
    return r.body.outcome ? 0 : 1;
  }
  const { command, outcome } = r.body;
  if (!outcome) {
    process.stdout.write(`${action} ${worker}: command ${command.id.slice(0, 8)} sent by ${command.requestedBy}; no outcome within 15 s (is the supervisor running?)\n`);
    return 1;
  }
  const name = outcome.type.replace("io.vigil.", "");
  const d = outcome.data;
  if (name === "out.command.rejected" || name === "out.command.failed") {
    process.stdout.write(`${action} ${worker}: ${name === "out.command.rejected" ? "rejected" : "failed"}: ${d.reason ?? d.error}\n`);
    return 1;
  }
  process.stdout.write(`${worker} ${name.slice("out.worker.".length)}${d.pid ? `: pid ${d.pid}` : ""}${d.previousPid ? ` (was ${d.previousPid})` : ""} — by ${d.requestedBy}, command ${command.id.slice(0, 8)}\n`);
  return 0;
}
