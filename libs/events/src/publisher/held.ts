import type { Logger } from "../logger.js";
import type { DurableMark } from "./durable.js";
import type { Outbox } from "./outbox.js";

/** Events acknowledged by JetStream and kept in the outbox until the durability barrier covers their stream sequence. */
export interface HeldEvents {
  add(key: string, seq: number): void;
  has(key: string): boolean;
  size(): number;
  /** A barrier mark: drop what it covers; if the stream was re-created, send everything held again. */
  release(m: DurableMark): void;
  /** Resolves once every drop issued so far is committed (or failed and was logged). */
  settled(): Promise<void>;
}

/** `requeue(n)`: the `n` events no longer held are to be re-published from the outbox. */
export function createHeldEvents(box: Outbox, requeue: (n: number) => void, log?: Logger): HeldEvents {
  /** Acknowledged at this stream sequence, kept until a barrier covers it. */
  const acked = new Map<string, number>();
  let epoch: string | undefined;
  let releasing: Promise<void> = Promise.resolve();
  return {
    add: (key, seq) => void acked.set(key, seq),
    has: (key) => acked.has(key),
    size: () => acked.size,
    release(m) {
      if (epoch !== undefined && m.created !== epoch && acked.size > 0) {
        // The stream was re-created (a power cut dropped its definition): what it had acknowledged may be gone.
        log?.warn({ events: acked.size, stream: m.stream }, "the stream was re-created; re-publishing events not yet known durable");
        const n = acked.size;
        acked.clear();
        requeue(n);
      }
      epoch = m.created;
      // One pass, deleting as it goes (a Map allows that): every mark walks all held events, ~40 times a second under load.
      const done: string[] = [];
      for (const [k, seq] of acked) if (seq <= m.seq) (done.push(k), acked.delete(k));
      if (done.length === 0) return;
      // Not chained behind the previous drop: every drop waiting together rides the same batch.
      const dropped = box.drop(done).catch((err) => log?.warn({ err: (err as Error).message }, "outbox: could not drop durable events (they are re-published, and dropped as duplicates, at the next start)"));
      releasing = releasing.then(() => dropped);
    },
    settled: () => releasing,
  };
}
