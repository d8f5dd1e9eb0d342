import { createDecider, replay as replayDecider } from "@vigil/decider";
import { eventName, type VigilEvent } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { formatEvent, table } from "./format.js";
import { gatewayClient, type GatewayTarget } from "./gateway-client.js";
import { compareDecisions, summarizeDecision } from "./redecide.js";

export interface ReplayOptions extends GatewayTarget {
  json: boolean;
  decide: boolean;
  /** 0: print at once; N: play back N times faster than it happened (pauses capped at 2 s). */
  speed: number;
}

const MAX_GAP_MS = 2_000;

/** Finds an incident by id or by a unique prefix of it (tables show the first 8 characters). */
async function resolveIncident(gw: ReturnType<typeof gatewayClient>, idOrPrefix: string): Promise<string> {
  const { incidents } = await gw.get("/api/incidents");
  const matches = (incidents as Array<{ id: string }>).filter((i) => i.id.startsWith(idOrPrefix));
  if (matches.length > 1) throw new UsageError(`incident "${idOrPrefix}" is ambiguous: ${matches.map((m) => m.id.slice(0, 12)).join(", ")}`);
  return matches[0]?.id ?? idOrPrefix;
}

/**
 * `vigil replay <incident> [--speed N] [--decide]`: the incident's events in stream order (in time with
 * --speed); with --decide, the current decider (this build's policies, the running config) re-run over
 * the recorded history up to the incident's end, and where its decisions differ from the recorded ones.
 */
export async function replayIncident(idArg: string | undefined, o: ReplayOptions): Promise<number> {
  if (!idArg) throw new UsageError("usage: vigil replay <incident> [--decide] [--speed N]");
  if (!(o.speed === 0 || (o.speed >= 0.1 && o.speed <= 1000))) throw new UsageError(`--speed ${o.speed}: 0 (at once) or a factor from 0.1 to 1000`);
  const gw = gatewayClient(o);
  const id = await resolveIncident(gw, idArg);
  const { incident, events } = (await gw.get(`/api/incidents/${encodeURIComponent(id)}`)) as { incident: any; events: Array<VigilEvent & { seq: number }> };

  let diffs: ReturnType<typeof compareDecisions> | undefined;
  if (o.decide) {
    const last = events.reduce((m, e) => Math.max(m, e.seq), 0);
    const filter = `vigil.${gw.config.device}.>`;
    // The gateway answers in pages (at most 10,000 events each): follow `next` up to the incident's last event.
    const history: VigilEvent[] = [];
    for (let next: number | null = 1; next !== null; ) {
      const page: { events: unknown[]; next?: number | null } = await gw.get(`/api/events?filter=${encodeURIComponent(filter)}&until=${last}&seq=${next}`);
      history.push(...(page.events as VigilEvent[]));
      next = page.next ?? null;
    }
    const decider = createDecider(gw.config);
    diffs = compareDecisions(events, replayDecider(decider, history).decisions);
  }

  if (o.json) {
    process.stdout.write(JSON.stringify({ incident, events, ...(diffs ? { redecide: diffs.map((d) => ({ trigger: d.trigger.id, seq: d.trigger.seq, same: d.same, recorded: d.recorded.map(summarizeDecision), redecided: d.redecided.map(summarizeDecision) })) } : {}) }, null, 2) + "\n");
    return 0;
  }

  process.stdout.write(`incident ${id} · ${incident.worker ?? "?"} · ${incident.status ?? "?"}${incident.reason ? ` · ${incident.reason}` : ""}\n\n`);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    process.stdout.write(formatEvent(e) + "\n");
    const next = events[i + 1];
    if (o.speed > 0 && next) await new Promise((r) => setTimeout(r, Math.min(MAX_GAP_MS, Math.max(0, (Date.parse(next.time) - Date.parse(e.time)) / o.speed))));
  }
  if (!diffs) return 0;
  const changed = diffs.filter((d) => !d.same).length;
  process.stdout.write(`\nre-decided with the current decider (${gw.config.workers.length} declared workers' restart policies from ${gw.config.configPath ?? "the defaults"}):\n`);
  process.stdout.write(
    table(
      ["TRIGGER", "RECORDED", "CURRENT DECIDER", ""],
      diffs.map((d) => [
        `#${d.trigger.seq ?? "?"} ${(eventName(d.trigger) ?? d.trigger.type).replace(/^[a-z]+\./, "")}`,
        d.recorded.map(summarizeDecision).join("; ") || "(nothing)",
        d.redecided.map(summarizeDecision).join("; ") || "(nothing)",
        d.same ? "same" : "DIFFERS",
      ]),
    ) + "\n",
  );
  process.stdout.write(changed === 0 ? "\nthe current decider makes the same decisions\n" : `\n${changed} of ${diffs.length} decisions differ\n`);
  return 0;
}
