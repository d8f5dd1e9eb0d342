import type { NatsConnection } from "@nats-io/transport-node";
import type { VigilEvent } from "../envelope.js";
import type { Logger } from "../logger.js";
import type { Outbox } from "./outbox.js";
import type { PublishResult } from "./result.js";
import type { Send } from "./sender.js";

/** Events in the outbox waiting to be sent while the bus is down (or behind others that are). */
export interface OutboxQueue {
  /** In the outbox, not being sent and not acknowledged. */
  count(): number;
  /** Writes the event to the outbox (synced) and schedules a flush. Throws without an outbox. */
  enqueue(e: VigilEvent): Promise<PublishResult>;
  /** `n` events already in the outbox are to be sent (again): count them and schedule a flush. */
  requeue(n: number): void;
  /** Sends what the outbox holds; resolves when it is empty or the bus failed again. */
  flush(): Promise<void>;
  /** No more retries; waits for a flush under way. */
  stop(): Promise<void>;
}

export interface OutboxQueueDeps {
  nc: NatsConnection;
  box?: Outbox;
  /** Events an earlier run left in the outbox. */
  stored: number;
  send: Send;
  /** Already sent by publish() (in flight, or acknowledged and held): a flush skips it. */
  isTaken(key: string): boolean;
  /** The event reached the stream at `seq`: drop it, or keep it until a barrier covers `seq`. */
  delivered(key: string, seq: number): Promise<void>;
  log?: Logger;
}

const RETRY_MS = 1_000;

export function createOutboxQueue(d: OutboxQueueDeps): OutboxQueue {
  let queued = d.stored;
  let flushing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function scheduleRetry(): void {
    if (retryTimer || closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void flush();
    }, RETRY_MS);
    retryTimer.unref();
  }

  /** One pass, or passes until empty: events queued during a pass are not in that pass's snapshot. */
  async function sendStored(db: Outbox["db"]): Promise<void> {
    while (queued > 0) {
      for await (const [k, v] of db.iterator()) {
        if (d.isTaken(k)) continue;
        if (d.nc.isClosed()) return;
        let r: PublishResult;
        try {
          r = await d.send(JSON.parse(v) as VigilEvent, v);
        } catch (err) {
          d.log?.debug({ err: (err as Error).message }, "outbox flush interrupted");
          scheduleRetry();
          return;
        }
        await d.delivered(k, r.seq!);
        queued--;
      }
    }
    d.log?.info("outbox flushed");
  }

  function flush(): Promise<void> {
    const db = d.box?.db;
    if (!db || queued === 0) return Promise.resolve();
    flushing ??= sendStored(db).finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  return {
    count: () => queued,
    async enqueue(e) {
      if (!d.box) throw new Error(`NATS unreachable and no outbox configured: event ${e.id} (${e.type}) not published`);
      await d.box.write([{ type: "put", key: d.box.newKey(), value: JSON.stringify(e) }]);
      queued++;
      scheduleRetry();
      return { queued: true };
    },
    requeue(n) {
      queued += n;
      scheduleRetry();
    },
    flush,
    async stop() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (flushing) await flushing.catch(() => undefined);
    },
  };
}
