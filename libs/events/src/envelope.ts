import { createHash, randomUUID } from "node:crypto";

/** A Vigil event: CloudEvents 1.0, structured mode, plus Vigil's extensions. */
export interface VigilEvent<T = unknown> {
  specversion: "1.0";
  id: string;
  source: string;
  /** `io.vigil.<kind>.<name>`, e.g. `io.vigil.obs.worker.exited`. */
  type: string;
  time: string;
  /** The NATS subject the event is published on. */
  subject: string;
  datacontenttype: "application/json";
  data: T;
  device: string;
  incident?: string;
  causation?: string;
  correlation?: string;
}

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
