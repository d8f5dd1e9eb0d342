import { eventName, parseSubject, type VigilEvent } from "@vigil/events";

/** One input of an incident with what the decider recorded for it and what the current one decides. */
export interface DecisionDiff {
  trigger: VigilEvent & { seq?: number };
  recorded: VigilEvent[];
  redecided: VigilEvent[];
  same: boolean;
}

/** A decision as compared: its type, incident and data (ids derive from these and the trigger). */
export function decisionKey(e: VigilEvent): string {
  return JSON.stringify([eventName(e) ?? e.type, e.incident ?? null, e.data]);
}

/** One line for a decision, e.g. `restart sensor (crash-restart, attempt 1, delay 100 ms)`. */
export function summarizeDecision(e: VigilEvent): string {
  const n = eventName(e) ?? e.type;
  const d = e.data as Record<string, any>;
  if (n === "dec.remediation.decided") return `decide ${d.action} ${d.worker} (${d.policy}, attempt ${d.attempt}, delay ${d.delayMs} ms)`;
  if (n.startsWith("dec.incident.")) return `incident ${n.slice("dec.incident.".length)}`;
  if (n.startsWith("cmd.")) return `${n.slice("cmd.worker.".length)} ${d.worker}${d.delayMs ? ` after ${d.delayMs} ms` : ""}`;
  return n;
}

const isDecision = (e: VigilEvent) => {
  const k = parseSubject(e.subject)?.kind;
  return (k === "dec" || k === "cmd") && e.source.endsWith("/decider");
};

/**
 * Pairs the decider's recorded decisions for an incident with those a decider re-run over the same inputs
 * produced, grouped by the input that caused them (causation), in stream order. Pure.
 *
 * @param incidentEvents the incident's recorded events (inputs and decisions), in stream order
 * @param redecided every decision of the re-run (over the whole history up to the incident's end)
 */
export function compareDecisions(incidentEvents: Array<VigilEvent & { seq?: number }>, redecided: VigilEvent[]): DecisionDiff[] {
  const recorded = incidentEvents.filter(isDecision);
  const triggers = new Map<string, VigilEvent & { seq?: number }>();
  for (const e of incidentEvents) if (!isDecision(e)) triggers.set(e.id, e);
  // Decisions of the re-run caused by one of this incident's inputs, or filed under this incident.
  const incidentIds = new Set(incidentEvents.map((e) => e.incident).filter((x): x is string => !!x));
  const mine = redecided.filter((d) => (d.causation && triggers.has(d.causation)) || (d.incident && incidentIds.has(d.incident)));
  const byTrigger = (list: VigilEvent[], id: string) => list.filter((d) => d.causation === id);
  const out: DecisionDiff[] = [];
  for (const t of triggers.values()) {
    const rec = byTrigger(recorded, t.id);
    const re = byTrigger(mine, t.id);
    if (rec.length === 0 && re.length === 0) continue;
    out.push({ trigger: t, recorded: rec, redecided: re, same: rec.length === re.length && rec.every((d, i) => decisionKey(d) === decisionKey(re[i]!)) });
  }
  // Decisions whose trigger is not among the incident's events (should not happen; shown rather than hidden).
  const orphan = (list: VigilEvent[]) => list.filter((d) => !d.causation || !triggers.has(d.causation));
  const recOrphans = orphan(recorded);
  const reOrphans = orphan(mine);
  if (recOrphans.length || reOrphans.length) {
    const t = (recOrphans[0] ?? reOrphans[0])!;
    out.push({ trigger: t, recorded: recOrphans, redecided: reOrphans, same: recOrphans.map(decisionKey).join() === reOrphans.map(decisionKey).join() });
  }
  return out;
}
