import { headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { encodeEvent } from "../codec.js";
import { CLOUDEVENTS_CONTENT_TYPE, type VigilEvent } from "../envelope.js";
import type { PublishResult } from "./result.js";

/**
 * One JetStream publish of an event, answered by the stream's ack. `json` is `JSON.stringify(e)` when
 * the caller has it already (the outbox's value): the event is then not serialised a second time.
 */
export type Send = (e: VigilEvent, json?: string) => Promise<PublishResult>;

const encoder = new TextEncoder();

/** Publishes with `Nats-Msg-Id` = event id, so a retry of the same event is dropped by the duplicate window. */
export function createSender(nc: NatsConnection, timeout: number): Send {
  const js = jetstream(nc);
  return async (e, json) => {
    const h = headers();
    h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
    const payload = json === undefined ? encodeEvent(e) : encoder.encode(json);
    const ack = await js.publish(e.subject, payload, { msgID: e.id, headers: h, timeout });
    return ack.duplicate ? { seq: ack.seq, duplicate: true } : { seq: ack.seq };
  };
}
