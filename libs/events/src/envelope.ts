import { createHash, randomUUID } from "node:crypto";
import type { DataOf, EventName } from "./catalog.js";

/** The CloudEvents 1.0 envelope (structured mode) plus Vigil's extensions: what every event has, whatever its type. */
export interface EventEnvelope {
  specversion: "1.0";
  id: string;
  source: string;
  time: string;
  /** The NATS subject the event is published on. */
  subject: string;
  datacontenttype: "application/json";
  device: string;
  incident?: string;
  causation?: string;
  correlation?: string;
}

/**
 * An event of any type, its `data` not narrowed: for code that only passes events through (bus,
 * sink, logs, the CLI's printing) or holds JSON it has not validated yet.
 */
export interface AnyVigilEvent<T = unknown> extends EventEnvelope {
  /** `io.vigil.<kind>.<name>`, e.g. `io.vigil.obs.worker.exited`. */
  type: string;
  data: T;
}

/**
 * The event of type `N` (or of any of the names in a union `N`): `type` is the literal
 * `io.vigil.<N>` and `data` is what the catalog's schema for `N` parses to. Distributes over a union
 * of names, so `type` is a discriminant: `switch (e.type) { case "io.vigil.obs.worker.exited": … }`
 * narrows `e.data` with no cast (and so does `is(e, name)` or a handler map, codec.ts).
 */
// A distributive conditional (not a mapped type indexed by N): for a generic N its constraint is the
// union over EventName, so an EventOf<N> is usable wherever a VigilEvent is expected.
export type EventOf<N extends EventName> = N extends EventName ? EventEnvelope & { type: `io.vigil.${N}`; data: DataOf<N> } : never;

/**
 * A Vigil event. `VigilEvent` is the discriminated union of every type in the catalog (what
 * `decodeEvent` returns); `VigilEvent<"obs.worker.exited">` (or a union of names) is those types only.
 * For compatibility, a type argument that is not an event name is the old generic form: the
 * envelope with `data` of that type (`AnyVigilEvent<T>`).
 */
export type VigilEvent<X = EventName> = [X] extends [EventName] ? EventOf<X> : AnyVigilEvent<X>;

export const CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json";
export const TYPE_PREFIX = "io.vigil.";

/** A random event id, for events that are not derived from another one. */
export function newEventId(): string {
  return randomUUID();
}

/**
 * A deterministic id derived from its parts (event ids, policy names …). A decider that re-decides
 * after a restart computes the same id, so JetStream's duplicate window and the supervisor's
 * executed-command memory drop the repeat.
 */
export function derivedId(...parts: string[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${(8 | (parseInt(h[16] ?? "0", 16) & 3)).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
