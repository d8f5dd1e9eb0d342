import { headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { encodeEvent } from "../codec.js";
import { CLOUDEVENTS_CONTENT_TYPE, type VigilEvent } from "../envelope.js";
import type { PublishResult } from "./result.js";

/** One JetStream publish of an event, answered by the stream's ack. */
export type Send = (e: VigilEvent) => Promise<PublishResult>;

/** Publishes with `Nats-Msg-Id` = event id, so a retry of the same event is dropped by the duplicate window. */
export function createSender(nc: NatsConnection, timeout: number): Send {
  const js = jetstream(nc);
  return async (e) => {
    const h = headers();
    h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
    const ack = await js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout });
    return ack.duplicate ? { seq: ack.seq, duplicate: true } : { seq: ack.seq };
  };
}
