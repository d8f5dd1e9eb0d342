import type { NatsConnection } from "@nats-io/transport-node";
import { makeEvent, type EventMeta } from "./codec.js";
import type { DataInput, EventName } from "./catalog.js";
import type { VigilEvent } from "./envelope.js";
import type { Logger } from "./logger.js";
import { trackConnection } from "./publisher/connection.js";
import { traceAt, tracing } from "./trace-timing.js";
import { watchDurable } from "./publisher/durable.js";
import { createHeldEvents } from "./publisher/held.js";
import { OUTBOX_COMPACT_MS, openOutbox, type Outbox } from "./publisher/outbox.js";
import { createHeldPublish } from "./publisher/publish-held.js";
import { createOutboxQueue } from "./publisher/queue.js";
import type { PublishResult } from "./publisher/result.js";
import { createSender } from "./publisher/sender.js";

export type { PublishResult } from "./publisher/result.js";
export { durabilitySubjects, type DurableMark } from "./publisher/durable.js";

export interface PublisherOptions {
  device: string;
  /** CloudEvents `source`, e.g. `vigil/edge-001/supervisor`. */
  source: string;
  /** A folder for a durable outbox. Without one, publish() throws when the bus is unreachable. */
  outboxDir?: string;
  log?: Logger;
  /** Per-publish acknowledgement timeout. */
  timeoutMs?: number;
  /**
   * Hold every event in the outbox (written with sync as it is sent; publish() resolves once both are done) until the durability barrier
   * says its stream sequence is on disk. Default: on when `VIGIL_DURABILITY=barrier` (set by `vigil up`
   * for its services) and there is an outbox; off otherwise (the JetStream ack is then all there is).
   */
  holdUntilDurable?: boolean;
  /** How often the outbox is compacted (outbox.ts compact(); default OUTBOX_COMPACT_MS; 0: never). */
  compactOutboxEveryMs?: number;
}

export interface Publisher {
  /** Validates, then publishes with `Nats-Msg-Id` = event id. */
  publish(event: VigilEvent): Promise<PublishResult>;
  /** Builds an event of `name` from this publisher's device and source, then publishes it. */
  emit<N extends EventName>(name: N, data: DataInput<N>, meta?: EventMeta): Promise<PublishResult & { event: VigilEvent }>;
  /** Events waiting in the outbox to be sent (not yet acknowledged by JetStream). */
  pending(): number;
  /** Events acknowledged by JetStream and still kept in the outbox until a barrier covers them. */
  held(): number;
  /** Sends what the outbox holds; resolves when it is empty or the bus failed again. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A publisher that never loses an event: while NATS is unreachable, events go to a level outbox on
 * disk (in order) and are flushed when the connection returns. Each event keeps its id, so a flush
 * that repeats an already-stored event is dropped by JetStream's duplicate window. Under `vigil up`
 * (holdUntilDurable) every event is also kept until the server's store is fsynced past it: a power
 * cut then loses nothing this publisher saw acknowledged (it is re-published at the next start).
 * The pieces live in ./publisher/: sender, outbox (group commit), queue (flush and retry), held
 * (release on barrier marks), publish-held, durable (the barrier's subjects), connection.
 */
export async function createPublisher(nc: NatsConnection, opts: PublisherOptions): Promise<Publisher> {
  const send = createSender(nc, opts.timeoutMs ?? 2_000);
  const box = opts.outboxDir ? openOutbox(opts.outboxDir) : undefined;
  if (box) await box.db.open();
  const hold = !!box && (opts.holdUntilDurable ?? process.env.VIGIL_DURABILITY === "barrier");
  const connection = trackConnection(nc);
  const stored = box ? await box.countStored() : 0;
  // Under the barrier this is what a power cut (or a stop before the last barrier) left unconfirmed.
  if (stored > 0) opts.log?.info({ pending: stored }, "outbox holds events from an earlier run; re-publishing them (the duplicate window drops those the stream kept)");
  // From here to the watchers, no await: nothing can call back into a piece before all exist.
  const queue = createOutboxQueue({
    nc,
    box,
    stored,
    send,
    isTaken: (key) => (heldPublish?.inFlight.has(key) ?? false) || (held?.has(key) ?? false),
    // The event reached the stream: drop it from the outbox, or (holding) keep it until a barrier covers `seq`.
    delivered: async (key, seq) => (held ? held.add(key, seq) : box!.db.del(key)),
    log: opts.log,
  });
  const requeue = (n: number) => queue.requeue(n);
  const held = hold ? createHeldEvents(box!, requeue, opts.log) : undefined;
  const heldPublish = held ? createHeldPublish(box!, send, held, requeue, opts.log) : undefined;
  const durable = held ? watchDurable(nc, opts.device, (m) => held.release(m), opts.log) : undefined;
  const watchStatus = connection.watch(() => void queue.flush());
  const compaction = box ? scheduleCompaction(box, opts.compactOutboxEveryMs ?? OUTBOX_COMPACT_MS, opts.log) : undefined;

  async function publish(e: VigilEvent): Promise<PublishResult> {
    if (tracing() && e.type.includes(".worker.")) traceAt("pub.send", { type: e.type });
    // Order matters (an exit before the restart it caused): while the outbox holds events, new ones queue behind them.
    if (queue.count() > 0 || !connection.online() || nc.isClosed()) {
      const r = await queue.enqueue(e);
      if (connection.online() && !nc.isClosed()) void queue.flush();
      return r;
    }
    if (heldPublish) return heldPublish.publish(e);
    try {
      return await send(e);
    } catch (err) {
      if (!box) throw err;
      opts.log?.warn({ err: (err as Error).message, id: e.id, type: e.type }, "publish failed, event kept in outbox");
      return queue.enqueue(e);
    }
  }

  return {
    publish,
    async emit(name, data, meta) {
      const event = makeEvent(opts.device, opts.source, name, data, meta);
      return { ...(await publish(event)), event };
    },
    pending: () => queue.count() + (heldPublish?.inFlight.size ?? 0),
    held: () => held?.size() ?? 0,
    flush: () => queue.flush(),
    async close() {
      await queue.stop();
      // A barrier now, so a clean stop leaves nothing to re-publish (after the duplicate window it would be stored twice).
      if (durable && held && held.size() > 0) {
        const m = await durable.syncNow().catch(() => undefined);
        if (m) held.release(m);
      }
      durable?.stop();
      await held?.settled();
      await compaction?.stop();
      await box?.db.close();
      void watchStatus;
    },
  };
}

/** Compacts `box` every `everyMs` (one at a time); stop() waits for the one in flight, so the db can close. */
function scheduleCompaction(box: Outbox, everyMs: number, log?: Logger): { stop(): Promise<void> } | undefined {
  if (!(everyMs > 0)) return undefined;
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= box
      .compact()
      .catch((err: Error) => log?.warn({ err: err.message }, "outbox compaction failed; its memtable is flushed at 4 MB instead"))
      .finally(() => (running = undefined));
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
