import { UsageError } from "./embedded-nats.js";
import { gatewayClient, type GatewayTarget } from "./gateway-client.js";

/**
 * `vigil ack <incident> [--reason text]`: acknowledges an open or escalated incident through the
 * gateway (operator tokens only; the token's name is recorded). The decider closes the incident;
 * a worker in cool-down keeps being retried.
 */
export async function ackIncident(incident: string | undefined, o: GatewayTarget & { json: boolean; reason?: string }): Promise<number> {
  if (!incident) throw new UsageError("usage: vigil ack <incident> [--reason text]");
  const gw = gatewayClient(o);
  const r = await gw.post(`/api/incidents/${encodeURIComponent(incident)}/ack`, o.reason ? { reason: o.reason } : {});
  if (r.status >= 400) {
    const e = r.body?.error ?? {};
    throw new UsageError(`ack ${incident}: ${e.message ?? `HTTP ${r.status}`}`, r.status === 404 || r.status === 400 ? 2 : 1);
  }
  if (o.json) process.stdout.write(JSON.stringify(r.body, null, 2) + "\n");
  else process.stdout.write(`incident ${incident} acknowledged by ${r.body.command.requestedBy} (command ${String(r.body.command.id).slice(0, 8)}); the decider closes it\n`);
  return 0;
}
