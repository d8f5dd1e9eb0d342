import { CATALOG, EnvelopeSchema, eventSubject, isEventName, isPlainValidEnvelope, TYPE_PREFIX, type VigilEvent } from "@vigil/events";

/** Why an event of a batch is refused (the whole batch is then refused, naming it). */
export interface Rejection {
  index: number;
  id?: string;
  reason: string;
}

/** Validates one CloudEvent the way the bus does: envelope, known type, data schema, subject. */
export function validateEvent(raw: unknown): { ok: true; event: VigilEvent } | { ok: false; reason: string } {
  // The hand-written check passes the usual event as it is; the schema sees only the others (and names what is wrong).
  let e: VigilEvent;
  if (isPlainValidEnvelope(raw)) e = raw as VigilEvent;
  else {
    const env = EnvelopeSchema.safeParse(raw);
    if (!env.success) return { ok: false, reason: `not a Vigil CloudEvent: ${env.error.issues.map((i) => `${i.path.join(".") || "(event)"}: ${i.message}`).join("; ")}` };
    e = env.data as VigilEvent;
  }
  const name = e.type.slice(TYPE_PREFIX.length);
  if (!isEventName(name)) return { ok: false, reason: `unknown event type "${e.type}"` };
  const data = CATALOG[name].safeParse(e.data);
  if (!data.success) return { ok: false, reason: `${name}: ${data.error.issues.map((i) => `data.${i.path.join(".")}: ${i.message}`).join("; ")}` };
  // Lifecycle events (sys.service.*) are published on a subject naming their service (docs/decisions/0008).
  const service = (data.data as { service?: unknown }).service;
  const expected = eventSubject(e.device, name, typeof service === "string" ? service : undefined);
  if (e.subject !== expected) return { ok: false, reason: `subject "${e.subject}" should be ${expected}` };
  return { ok: true, event: e };
}

/** Validates a parsed batch body: a JSON array of events. Returns the events or every rejection. */
export function validateBatch(body: unknown): { ok: true; events: VigilEvent[] } | { ok: false; error: string; rejected: Rejection[] } {
  if (!Array.isArray(body)) return { ok: false, error: "the body must be a JSON array of CloudEvents (application/cloudevents-batch+json)", rejected: [] };
  const events: VigilEvent[] = [];
  const rejected: Rejection[] = [];
  body.forEach((raw, index) => {
    const r = validateEvent(raw);
    if (r.ok) events.push(r.event);
    else {
      const id = typeof (raw as { id?: unknown })?.id === "string" ? (raw as { id: string }).id : undefined;
      rejected.push({ index, ...(id ? { id } : {}), reason: r.reason });
    }
  });
  if (rejected.length > 0) {
    const first = rejected[0]!;
    return { ok: false, error: `${rejected.length} invalid event(s); first at index ${first.index}${first.id ? ` (id ${first.id})` : ""}: ${first.reason}`, rejected };
  }
  return { ok: true, events };
}
