import { derivedId, is, type AlertTransition, type VigilEvent } from "@vigil/events";

/** The incident transition an event is, or undefined for anything else. */
export function transitionOf(e: VigilEvent): AlertTransition | undefined {
  if (is(e, "dec.incident.opened")) return "opened";
  if (is(e, "dec.incident.escalated")) return "escalated";
  if (is(e, "dec.incident.resolved")) return "resolved";
  return undefined;
}

/**
 * The webhook body: a CloudEvents 1.0 JSON event of type `io.vigil.alert.<transition>` whose `id`
 * is the incident event's (so a receiver can look it up in the stream) and whose data says what a
 * human needs: device, worker, incident, transition, reason.
 */
export function alertBody(e: VigilEvent, transition: AlertTransition): string {
  const data = e.data as { worker: string; reason: string; restarts?: number; windowMs?: number; policy?: string };
  return JSON.stringify({
    specversion: "1.0",
    id: e.id,
    source: `vigil/${e.device}/alerts`,
    type: `io.vigil.alert.${transition}`,
    time: e.time,
    subject: data.worker,
    datacontenttype: "application/json",
    data: {
      device: e.device,
      worker: data.worker,
      transition,
      reason: data.reason,
      incident: e.incident ?? null,
      ...(data.restarts !== undefined ? { restarts: data.restarts, windowMs: data.windowMs } : {}),
      ...(data.policy ? { policy: data.policy } : {}),
      event: { id: e.id, type: e.type, subject: e.subject },
    },
  });
}

/** One id per alert and target, the same on every retry: what a receiver dedupes on. */
export const deliveryIdOf = (eventId: string, target: string): string => derivedId(eventId, target, "alert-delivery");
