import { headers, type NatsConnection, type Subscription } from "@nats-io/transport-node";
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

/**
 * The durability barrier's subjects (docs/decisions/0009-durability-barrier.md). Outside `vigil.>` on
 * purpose: the event stream must not capture them. `vigil up` fsyncs the server's store and then
 * announces `{ stream, seq, created }` on `announce`: every message of `stream` up to `seq` survives a
 * power cut. A request on `sync` runs a barrier now and is answered with the same announcement.
 */
export function durabilitySubjects(device: string): { announce: string; sync: string } {
  return { announce: `$VIGIL.durable.${device}`, sync: `$VIGIL.durable.${device}.sync` };
}

/** What the barrier announces. `created` changes when the stream was re-created (its sequences start over). */
export interface DurableMark {
  stream: string;
  seq: number;
  created: string;
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
  /**
   * Hold every event in the outbox (written with sync as it is sent; publish() resolves once both are done) until the durability barrier
   * says its stream sequence is on disk. Default: on when `VIGIL_DURABILITY=barrier` (set by `vigil up`
   * for its services) and there is an outbox; off otherwise (the JetStream ack is then all there is).
   */
  holdUntilDurable?: boolean;
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

interface Outbox {
  db: Level<string, string>;
  /** Puts (and deletes when holding) are grouped into one synced batch per turn of the event loop. */
  write(ops: Array<{ type: "put"; key: string; value: string } | { type: "del"; key: string }>): Promise<void>;
  /**
   * Deletes of events a barrier covered: they ride with the next synced batch of puts instead of
   * costing an fsync of their own (one per announcement, i.e. every ~25 ms under load, which slowed
   * every put behind it), or are committed alone after `DROP_WAIT_MS` when no put comes.
   */
  drop(keys: string[]): Promise<void>;
}

/** The longest a covered event's delete waits for a put to ride with. A delete lost in a cut only re-publishes a duplicate. */
const DROP_WAIT_MS = 250;

/** Concurrent writes share one `sync` batch: a group commit on the outbox's side. */
function openOutbox(dir: string): Outbox {
  const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
  type Op = { type: "put"; key: string; value: string } | { type: "del"; key: string };
  type Waiter = { ops: Op[]; done: (err?: Error) => void };
  let waiting: Waiter[] = [];
  let riders: Waiter[] = [];
  let dropTimer: NodeJS.Timeout | undefined;
  const commit = async () => {
    const group = [...waiting, ...riders];
    waiting = [];
    riders = [];
    if (dropTimer) clearTimeout(dropTimer);
    dropTimer = undefined;
    try {
      await db.batch(group.flatMap((g) => g.ops), { sync: true });
      for (const g of group) g.done();
    } catch (err) {
      for (const g of group) g.done(err as Error);
    }
  };
  const waiter = (ops: Op[], resolve: () => void, reject: (e: Error) => void): Waiter => ({ ops, done: (err) => (err ? reject(err) : resolve()) });
  return {
    db,
    write: (ops) =>
      new Promise<void>((resolve, reject) => {
        waiting.push(waiter(ops, resolve, reject));
        if (waiting.length === 1) setImmediate(() => void commit());
      }),
    drop: (keys) =>
      new Promise<void>((resolve, reject) => {
        riders.push(waiter(keys.map((key) => ({ type: "del" as const, key })), resolve, reject));
        dropTimer ??= setTimeout(() => void commit(), DROP_WAIT_MS);
      }),
  };
}

/**
 * A publisher that never loses an event: while NATS is unreachable, events go to a level outbox on
 * disk (in order) and are flushed when the connection returns. Each event keeps its id, so a flush
 * that repeats an already-stored event is dropped by JetStream's duplicate window. Under `vigil up`
 * (holdUntilDurable) every event is also kept until the server's store is fsynced past it: a power
 * cut then loses nothing this publisher saw acknowledged (it is re-published at the next start).
 */
export async function createPublisher(nc: NatsConnection, opts: PublisherOptions): Promise<Publisher> {
  const js: JetStreamClient = jetstream(nc);
  const timeout = opts.timeoutMs ?? 2_000;
  const box = opts.outboxDir ? openOutbox(opts.outboxDir) : undefined;
  const db = box?.db;
  if (db) await db.open();
  const hold = !!box && (opts.holdUntilDurable ?? process.env.VIGIL_DURABILITY === "barrier");
  let online = !nc.isClosed();
  /** In the outbox, not being sent and not acknowledged. */
  let queued = 0;
  /** Sent directly by publish(), not yet answered. */
  const inflight = new Set<string>();
  /** Acknowledged at this stream sequence, kept until a barrier covers it. */
  const acked = new Map<string, number>();
  let nextKey = 0;
  if (db) {
    for await (const k of db.keys()) {
      queued++;
      nextKey = Math.max(nextKey, Number.parseInt(k, 10) + 1);
    }
    // Under the barrier this is what a power cut (or a stop before the last barrier) left unconfirmed.
    if (queued > 0) opts.log?.info({ pending: queued }, "outbox holds events from an earlier run; re-publishing them (the duplicate window drops those the stream kept)");
  }
  const newKey = () => String(nextKey++).padStart(16, "0");
  let flushing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const durable = hold ? watchDurable(nc, opts.device, (m) => release(m), opts.log) : undefined;

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

  /** The event reached the stream: drop it from the outbox, or (holding) keep it until a barrier covers `seq`. */
  async function delivered(key: string, seq: number): Promise<void> {
    if (hold) acked.set(key, seq);
    else await db!.del(key);
  }

  let epoch: string | undefined;
  let releasing: Promise<void> = Promise.resolve();
  function release(m: DurableMark): void {
    if (epoch !== undefined && m.created !== epoch && acked.size > 0) {
      // The stream was re-created (a power cut dropped its definition): what it had acknowledged may be gone.
      opts.log?.warn({ events: acked.size, stream: m.stream }, "the stream was re-created; re-publishing events not yet known durable");
      queued += acked.size;
      acked.clear();
      scheduleRetry();
    }
    epoch = m.created;
    const done = [...acked].filter(([, seq]) => seq <= m.seq).map(([k]) => k);
    if (done.length === 0) return;
    for (const k of done) acked.delete(k);
    // Not chained behind the previous drop: every drop waiting together rides the same batch.
    const dropped = box!.drop(done).catch((err) => opts.log?.warn({ err: (err as Error).message }, "outbox: could not drop durable events (they are re-published, and dropped as duplicates, at the next start)"));
    releasing = releasing.then(() => dropped);
  }

  async function enqueue(e: VigilEvent): Promise<PublishResult> {
    if (!box) throw new Error(`NATS unreachable and no outbox configured: event ${e.id} (${e.type}) not published`);
    await box.write([{ type: "put", key: newKey(), value: JSON.stringify(e) }]);
    queued++;
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
    if (!db || queued === 0) return Promise.resolve();
    flushing ??= (async () => {
      try {
        // Events queued during a pass are not in that pass's snapshot: go round until empty.
        while (queued > 0) {
          for await (const [k, v] of db.iterator()) {
            if (inflight.has(k) || acked.has(k)) continue;
            if (nc.isClosed()) return;
            let r: PublishResult;
            try {
              r = await send(JSON.parse(v) as VigilEvent);
            } catch (err) {
              opts.log?.debug({ err: (err as Error).message }, "outbox flush interrupted");
              scheduleRetry();
              return;
            }
            await delivered(k, r.seq!);
            queued--;
          }
        }
        opts.log?.info("outbox flushed");
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  }

  /**
   * Holding: the synced outbox put rides with the send, and publish() resolves only once both are
   * done, so no ack is ever seen for an event a cut can take. The send does not wait for the fsync:
   * waiting put a whole fsync (tens of ms on a busy disk) between a worker's exit and the decider
   * hearing of it (issue 13). Order is kept: keys and sends are issued in call order on one connection.
   */
  async function publishHeld(e: VigilEvent): Promise<PublishResult> {
    const key = newKey();
    inflight.add(key);
    const written = box!.write([{ type: "put", key, value: JSON.stringify(e) }]);
    const sent = send(e).then(
      (r) => ({ ok: true as const, r }),
      (err: Error) => ({ ok: false as const, err }),
    );
    try {
      // A failed put fails the publish, as it did when the put came first (the event may be stored:
      // a retry of the same id is dropped by the duplicate window).
      await written;
      const s = await sent;
      if (s.ok) {
        acked.set(key, s.r.seq!);
        return s.r;
      }
      opts.log?.warn({ err: s.err.message, id: e.id, type: e.type }, "publish failed, event kept in outbox");
      queued++;
      scheduleRetry();
      return { queued: true };
    } finally {
      inflight.delete(key);
    }
  }

  async function publish(e: VigilEvent): Promise<PublishResult> {
    // Order matters (an exit before the restart it caused): while the outbox holds events, new ones queue behind them.
    if (queued > 0 || !online || nc.isClosed()) {
      const r = await enqueue(e);
      if (online && !nc.isClosed()) void flush();
      return r;
    }
    if (hold) return publishHeld(e);
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
    pending: () => queued + inflight.size,
    held: () => acked.size,
    flush,
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (flushing) await flushing.catch(() => undefined);
      // A barrier now, so a clean stop leaves nothing to re-publish (after the duplicate window it would be stored twice).
      if (durable && acked.size > 0) {
        const m = await durable.syncNow().catch(() => undefined);
        if (m) release(m);
      }
      durable?.stop();
      await releasing;
      await db?.close();
      void watchStatus;
    },
  };
}

/** Listens to the barrier's announcements; `syncNow` asks for a barrier and returns its mark. */
function watchDurable(nc: NatsConnection, device: string, onMark: (m: DurableMark) => void, log?: Logger): { syncNow(): Promise<DurableMark>; stop(): void } {
  const subjects = durabilitySubjects(device);
  const parse = (data: Uint8Array): DurableMark | undefined => {
    try {
      const m = JSON.parse(new TextDecoder().decode(data)) as DurableMark;
      return typeof m.seq === "number" && typeof m.created === "string" ? m : undefined;
    } catch {
      return undefined;
    }
  };
  const sub: Subscription = nc.subscribe(subjects.announce, {
    callback: (err, msg) => {
      if (err) return log?.warn({ err: err.message, subject: subjects.announce }, "cannot hear the durability barrier: acknowledged events stay in the outbox");
      const m = parse(msg.data);
      if (m) onMark(m);
      else log?.warn({ subject: subjects.announce }, "durability barrier: announcement not understood, ignored");
    },
  });
  return {
    async syncNow() {
      const r = await nc.request(subjects.sync, undefined, { timeout: 2_000 });
      const m = parse(r.data);
      if (!m) throw new Error("durability barrier: reply not understood");
      return m;
    },
    stop: () => sub.unsubscribe(),
  };
}
