import { table } from "./format.js";
import { gatewayClient, type GatewayTarget } from "./gateway-client.js";

export function ago(ms: number | string | undefined, now = Date.now()): string {
  if (ms === undefined) return "-";
  const t = typeof ms === "string" ? Date.parse(ms) : ms;
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** `vigil workers`: each worker's state, pid, restarts and incident, through the gateway. */
export async function workers(o: GatewayTarget & { json: boolean }): Promise<number> {
  const gw = gatewayClient(o);
  const s = await gw.get("/api/state");
  if (o.json) {
    process.stdout.write(JSON.stringify({ device: s.device, seq: s.seq, workers: s.workers }, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(
    table(
      ["WORKER", "STATE", "PID", "RESTARTS", "SINCE", "INCIDENT", "ESSENTIAL"],
      s.workers.map((w: any) => [w.name, w.status, w.pid ? String(w.pid) : "-", String(w.restarts), ago(w.startedAt), w.incident?.slice(0, 8) ?? "-", w.essential ? "yes" : ""]),
    ) + "\n",
  );
  return 0;
}

/** `vigil incidents`: open and recent incidents, newest first. */
export async function incidents(o: GatewayTarget & { json: boolean }): Promise<number> {
  const gw = gatewayClient(o);
  const { incidents: list } = await gw.get("/api/incidents");
  if (o.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    return 0;
  }
  if (list.length === 0) {
    process.stdout.write("no incidents\n");
    return 0;
  }
  process.stdout.write(
    table(
      ["INCIDENT", "WORKER", "STATUS", "OPENED", "CLOSED", "REASON"],
      list.map((i: any) => [i.id.slice(0, 8), i.worker, i.status, ago(i.openedAt), i.closedAt ? ago(i.closedAt) : "-", i.reason]),
    ) + `\n\nDetails and replay: vigil replay <incident> [--decide]\n`,
  );
  return 0;
}
