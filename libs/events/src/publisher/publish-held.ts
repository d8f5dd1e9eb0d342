import type { VigilEvent } from "../envelope.js";
import type { Logger } from "../logger.js";
import type { HeldEvents } from "./held.js";
import type { Outbox } from "./outbox.js";
import type { PublishResult } from "./result.js";
import type { Send } from "./sender.js";

export interface HeldPublish {
  publish(e: VigilEvent): Promise<PublishResult>;
  /** Sent directly by publish(), not yet answered. */
  inFlight: ReadonlySet<string>;
}

/**
 * Holding: the synced outbox put rides with the send, and publish() resolves only once both are
 * done, so no ack is ever seen for an event a cut can take. The send does not wait for the fsync:
 * waiting put a whole fsync (tens of ms on a busy disk) between a worker's exit and the decider
 * hearing of it (issue 13). Order is kept: keys and sends are issued in call order on one connection.
 * A failed send leaves the event in the outbox: `requeue(1)` has the outbox queue send it.
 */
export function createHeldPublish(box: Outbox, send: Send, held: HeldEvents, requeue: (n: number) => void, log?: Logger): HeldPublish {
  const inFlight = new Set<string>();
  async function publish(e: VigilEvent): Promise<PublishResult> {
    const key = box.newKey();
    inFlight.add(key);
    // Serialised once: the same text is the outbox's value and the message's payload.
    const json = JSON.stringify(e);
    const written = box.write([{ type: "put", key, value: json }]);
    const sent = send(e, json).then(
      (r) => ({ ok: true as const, r }),
      (err: Error) => ({ ok: false as const, err }),
    );
    try {
      // A failed put fails the publish, as it did when the put came first (the event may be stored:
      // a retry of the same id is dropped by the duplicate window).
      await written;
      const s = await sent;
      if (s.ok) {
        held.add(key, s.r.seq!);
        return s.r;
      }
      log?.warn({ err: s.err.message, id: e.id, type: e.type }, "publish failed, event kept in outbox");
      requeue(1);
      return { queued: true };
    } finally {
      inFlight.delete(key);
    }
  }
  return { publish, inFlight };
}
