import { z } from "zod";
import { CATALOG, isEventName, type DataInput, type DataOf, type EventName } from "./catalog.js";
import { isPlainValidEnvelope } from "./envelope-check.js";
import { newEventId, TYPE_PREFIX, type AnyVigilEvent, type EventOf, type VigilEvent } from "./envelope.js";
import { eventSubject } from "./owners.js";

/** data.service of a lifecycle event (its subject names it, owners.ts SERVICE_SCOPED). */
const serviceOf = (data: unknown) => (data as { service?: string } | null)?.service;

export interface EventMeta {
  id?: string;
  /** ISO time; producers that are clock-free (the decider) pass the time of the event that caused this one. */
  time?: string;
  incident?: string;
  causation?: string;
  correlation?: string;
}

/** The CloudEvents envelope every Vigil event has (the bus and the cloud sink validate with this one schema). */
export const EnvelopeSchema = z.object({
  specversion: z.literal("1.0"),
  id: z.string().min(1).max(128),
  source: z.string().min(1).max(256),
  type: z.string().startsWith(TYPE_PREFIX),
  time: z.iso.datetime({ offset: true }),
  subject: z.string().min(1),
  datacontenttype: z.literal("application/json"),
  data: z.unknown(),
  device: z.string().min(1),
  incident: z.string().optional(),
  causation: z.string().optional(),
  correlation: z.string().optional(),
});

export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidEventError";
  }
}

/** The catalog name of an event's type (`io.vigil.obs.worker.exited` → `obs.worker.exited`); undefined for a type not in the catalog. */
export function eventName(e: Pick<AnyVigilEvent, "type">): EventName | undefined {
  const n = e.type.slice(TYPE_PREFIX.length);
  return isEventName(n) ? n : undefined;
}

function describe(err: z.ZodError, prefix: string): string {
  return err.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join(".")}: ${i.message}`).join("; ");
}

/** Builds and validates an event; throws InvalidEventError naming the bad field. */
export function makeEvent<N extends EventName>(
  device: string,
  source: string,
  name: N,
  data: DataInput<N>,
  meta: EventMeta = {},
): EventOf<N> {
  const parsed = CATALOG[name].safeParse(data);
  if (!parsed.success) throw new InvalidEventError(`${name}: ${describe(parsed.error, "data")}`);
  const e: AnyVigilEvent<DataOf<N>> & { type: `${typeof TYPE_PREFIX}${N}` } = {
    specversion: "1.0",
    id: meta.id ?? newEventId(),
    source,
    type: `${TYPE_PREFIX}${name}`,
    time: meta.time ?? new Date().toISOString(),
    subject: eventSubject(device, name, serviceOf(parsed.data)),
    datacontenttype: "application/json",
    data: parsed.data as DataOf<N>,
    device,
  };
  if (meta.incident) e.incident = meta.incident;
  if (meta.causation) e.causation = meta.causation;
  if (meta.correlation) e.correlation = meta.correlation;
  // `type` is io.vigil.<N> and `data` parsed by CATALOG[N]: EventOf<N>, which TypeScript cannot see for a generic N.
  return e as unknown as EventOf<N>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeEvent(e: AnyVigilEvent): Uint8Array {
  return encoder.encode(JSON.stringify(e));
}

/**
 * Parses and validates a payload received on `subject`. Throws InvalidEventError with a reason that
 * names the problem (not JSON, missing field, unknown type, data that fails its schema, wrong subject).
 * The result is the typed union: `switch (e.type)` (or `is`, `dispatch`) narrows its data.
 */
export function decodeEvent(subject: string, payload: Uint8Array): VigilEvent {
  let text: string;
  try {
    text = decoder.decode(payload);
  } catch {
    throw new InvalidEventError("payload is not UTF-8");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidEventError(`payload is not JSON: ${(err as Error).message}`);
  }
  // The usual event passes the hand-written check as it is; the schema sees only the others (and names what is wrong).
  const e = isPlainValidEnvelope(raw) ? (raw as z.infer<typeof EnvelopeSchema>) : envelopeOrThrow(raw);
  const name = eventName(e);
  if (!name) throw new InvalidEventError(`unknown event type "${e.type}"`);
  const data = CATALOG[name].safeParse(e.data);
  if (!data.success) throw new InvalidEventError(`${name}: ${describe(data.error, "data")}`);
  const expected = eventSubject(e.device, name, serviceOf(data.data));
  if (subject !== expected) {
    throw new InvalidEventError(`event of type ${name} for device ${e.device} belongs on ${expected}, not ${subject}`);
  }
  if (e.subject !== subject) throw new InvalidEventError(`subject attribute "${e.subject}" differs from ${subject}`);
  // Checked above: the type is io.vigil.<name> and the data parsed by CATALOG[name], i.e. EventOf<name>.
  return { ...e, data: data.data } as VigilEvent;
}

function envelopeOrThrow(raw: unknown): z.infer<typeof EnvelopeSchema> {
  const env = EnvelopeSchema.safeParse(raw);
  if (!env.success) throw new InvalidEventError(`not a Vigil CloudEvent: ${describe(env.error, "")}`);
  return env.data;
}

/** Narrows an event to one type (or, for an event not validated yet, claims it: decode first). */
export function is<N extends EventName>(e: AnyVigilEvent, name: N): e is EventOf<N> {
  return e.type === TYPE_PREFIX + name;
}

/**
 * One handler per event name, for any subset of the catalog: each receives the event narrowed to its
 * type (`e.data` typed, no cast), then `args` (the state a fold folds into, a policy's context …).
 */
export type EventHandlers<A extends unknown[], R> = { [N in EventName]?: (e: EventOf<N>, ...args: A) => R };

// Generic in N so that handlers[name] and e are the same N (a correlated union): no cast needed.
function callHandler<N extends EventName, A extends unknown[], R>(handlers: EventHandlers<A, R>, name: N, e: EventOf<N>, args: A): R | undefined {
  const h = handlers[name];
  return h?.(e, ...args);
}

/** Calls the handler for `e`'s type; undefined when there is none (or the type is not in the catalog). */
export function dispatch<A extends unknown[], R>(handlers: EventHandlers<A, R>, e: VigilEvent, ...args: A): R | undefined {
  const name = eventName(e);
  return name === undefined ? undefined : callHandler(handlers, name, e, args);
}
