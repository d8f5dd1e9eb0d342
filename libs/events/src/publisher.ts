import { headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Level } from "level";
import { makeEvent, encodeEvent, type EventMeta } from "./codec.js";
import type { DataInput, EventName } from "./catalog.js";
import { CLOUDEVENTS_CONTENT_TYPE, type VigilEvent } from "./envelope.js";
import type { Logger } from "./logger.js";

export interface PublishResult {
  /** Stream sequence, when the event reached the stream now. */
  seq?: number;
  /** JetStream had already stored this id (a retry inside the duplicate window). */
  duplicate?: boolean;
  /** The bus was unreachable: the event waits in the local outbox and is sent on reconnect. */
  queued?: boolean;
}

export interface PublisherOptions {
  device: string;
  /** CloudEvents `source`, e.g. `vigil/edge-001/supervisor`. */
  source: string;
  /** A folder for a durable outbox. Without one, publish() throws when the bus is unreachable. */
  outboxDir?: string;
  log?: Logger;
  /** Per-publish acknowledgement timeout. */
  timeoutMs?: number;
}

export interface Publisher {
  /** Validates, then publishes with `Nats-Msg-Id` = event id. */
  publish(event: VigilEvent): Promise<PublishResult>;
  /** Builds an event of `name` from this publisher's device and source, then publishes it. */
  emit<N extends EventName>(name: N, data: DataInput<N>, meta?: EventMeta): Promise<PublishResult & { event: VigilEvent }>;
  /** Events waiting in the outbox. */
  pending(): number;
  /** Sends what the outbox holds; resolves when it is empty or the bus failed again. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A publisher that never loses an event: while NATS is unreachable, events go to a level outbox on
 * disk (in order) and are flushed when the connection returns. Each event keeps its id, so a flush
 * that repeats an already-stored event is dropped by JetStream's duplicate window.
 */
export async function createPublisher(nc: NatsConnection, opts: PublisherOptions): Promise<Publisher> {
  const js: JetStreamClient = jetstream(nc);
  const timeout = opts.timeoutMs ?? 2_000;
  const db = opts.outboxDir ? new Level<string, string>(opts.outboxDir, { valueEncoding: "utf8" }) : undefined;
  if (db) await db.open();
  let online = !nc.isClosed();
  let pendingCount = 0;
  let nextKey = 0;
  if (db) {
    for await (const k of db.keys()) {
      pendingCount++;
      nextKey = Math.max(nextKey, Number.parseInt(k, 10) + 1);
    }
    if (pendingCount > 0) opts.log?.info({ pending: pendingCount }, "outbox holds events from an earlier run");
  }
  let flushing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const watchStatus = (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") online = false;
      else if (s.type === "reconnect") {
        online = true;
        void flush();
      }
    }
  })();

  async function send(e: VigilEvent): Promise<PublishResult> {
    const h = headers();
    h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
    const ack = await js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout });
    return ack.duplicate ? { seq: ack.seq, duplicate: true } : { seq: ack.seq };
  }

  async function enqueue(e: VigilEvent): Promise<PublishResult> {
    if (!db) throw new Error(`NATS unreachable and no outbox configured: event ${e.id} (${e.type}) not published`);
    await db.put(String(nextKey++).padStart(16, "0"), JSON.stringify(e));
    pendingCount++;
    scheduleRetry();
    return { queued: true };
  }

  function scheduleRetry(): void {
    if (retryTimer || closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void flush();
    }, 1_000);
    retryTimer.unref();
  }

  function flush(): Promise<void> {
    if (!db || pendingCount === 0) return Promise.resolve();
    flushing ??= (async () => {
      try {
        // Events queued during a pass are not in that pass's snapshot: go round until empty.
        while (pendingCount > 0) {
          for await (const [k, v] of db.iterator()) {
            if (nc.isClosed()) return;
            try {
              await send(JSON.parse(v) as VigilEvent);
            } catch (err) {
              opts.log?.debug({ err: (err as Error).message }, "outbox flush interrupted");
              scheduleRetry();
              return;
            }
            await db.del(k);
            pendingCount--;
          }
        }
        opts.log?.info("outbox flushed");
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  }

  async function publish(e: VigilEvent): Promise<PublishResult> {
    // Order matters (an exit before the restart it caused): while the outbox holds events, new ones queue behind them.
    if (pendingCount > 0 || !online || nc.isClosed()) {
      const r = await enqueue(e);
      if (online && !nc.isClosed()) void flush();
      return r;
    }
    try {
      return await send(e);
    } catch (err) {
      if (!db) throw err;
      opts.log?.warn({ err: (err as Error).message, id: e.id, type: e.type }, "publish failed, event kept in outbox");
      return enqueue(e);
    }
  }

  return {
    publish,
    async emit(name, data, meta) {
      const event = makeEvent(opts.device, opts.source, name, data, meta);
      return { ...(await publish(event)), event };
    },
    pending: () => pendingCount,
    flush,
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (flushing) await flushing.catch(() => undefined);
      await db?.close();
      void watchStatus;
    },
  };
}
