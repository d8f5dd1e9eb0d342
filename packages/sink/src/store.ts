import { gunzipSync } from "node:zlib";
import { Level } from "level";
import type { VigilEvent } from "@vigil/events";

export interface SinkCounts {
  /** HTTP requests to the batch endpoint. */
  requests: number;
  /** Batches accepted (2xx). */
  batches: number;
  /** Valid events received in accepted batches, repeats included. */
  received: number;
  /** Distinct events stored (each id once). */
  stored: number;
  /** Events received again (same id): re-sent after a crash or a lost answer, not stored twice. */
  duplicates: number;
  /** Requests refused: bad signature, invalid body or events, injected faults. */
  unauthorized: number;
  invalid: number;
  faulted: number;
}

export interface StoredBatch {
  /** Arrival index of the batch's first newly stored event (0-based, global). */
  first: number;
  batch: number;
  at: string;
  /** The stream sequences telemetry said the batch covers. */
  firstSeq?: number;
  lastSeq?: number;
  /** The events of the batch not stored before, in the order received. */
  events: VigilEvent[];
}

export interface StoredEvent {
  index: number;
  batch: number;
  event: VigilEvent;
}

const ZERO: SinkCounts = { requests: 0, batches: 0, received: 0, stored: 0, duplicates: 0, unauthorized: 0, invalid: 0, faulted: 0 };
const pad = (n: number) => String(n).padStart(16, "0");

/** A request body as received: the batch's events as a JSON array (UTF-8), gzipped when `gzip`. */
export interface ReceivedBody {
  bytes: Uint8Array;
  gzip: boolean;
}

/** A batch waiting for the next write, and the caller waiting for its answer. */
interface PendingBatch {
  events: VigilEvent[];
  meta: { firstSeq?: number; lastSeq?: number };
  /** The events as received (stored as they are when every one of them is new). */
  body?: ReceivedBody;
  resolve(r: { stored: number; duplicates: number }): void;
  reject(err: unknown): void;
}

/** Events of queued batches folded into one write (bounds the write's size and the answers' delay). */
const MAX_GROUP_EVENTS = 50_000;

type Put = { type: "put"; key: string; value: string } | { type: "put"; key: string; value: Buffer; valueEncoding: "buffer" };

/**
 * Durable, de-duplicating event store. Keys: `b!<first index>` (one record per accepted batch, in
 * arrival order), `ids!<first index>` (that batch's event ids, a JSON array: the durable dedup index),
 * `meta!counts`. The ids are held in memory too (read back at open, with any `id!<id>` keys an older
 * store wrote one per event), so a batch's id check is a Set look-up and its write three keys, not a
 * look-up and a key per event: profiling the telemetry drain showed those per-event level reads and
 * writes as most of the sink's CPU. The cost is memory, about 100 bytes per stored event.
 * Writes are serial, so the id check and the write never interleave; batches that arrive while a
 * write is running go in the next write together (group commit: one atomic level write for all of
 * them, each batch still its own record and all-or-nothing).
 */
export class EventStore {
  private queue: PendingBatch[] = [];
  private writing: Promise<void> | undefined;
  private readonly listeners = new Set<(c: SinkCounts) => void>();
  private constructor(
    private readonly db: Level<string, string>,
    private counts_: SinkCounts,
    /** Every stored event id. */
    private readonly ids: Set<string>,
  ) {}

  static async open(dir: string): Promise<EventStore> {
    const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
    await db.open();
    const saved = await db.get("meta!counts");
    return new EventStore(db, { ...ZERO, ...(saved ? (JSON.parse(saved) as Partial<SinkCounts>) : {}) }, await storedIds(db));
  }

  counts(): SinkCounts {
    return { ...this.counts_ };
  }

  /** Counts a refused or faulted request (persisted with the next batch). */
  bump(key: "requests" | "unauthorized" | "invalid" | "faulted"): void {
    this.counts_[key]++;
    this.notify();
  }

  /** Called with the counts after every change (tests wait on it instead of polling). */
  onChange(listener: (c: SinkCounts) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l(this.counts());
  }

  /**
   * Stores the events whose ids are new; returns how many were new and how many repeats. `body`, when
   * given, is exactly these events as received (the request body): stored as it is when all are new.
   */
  add(events: VigilEvent[], meta: { firstSeq?: number; lastSeq?: number } = {}, body?: ReceivedBody): Promise<{ stored: number; duplicates: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ events, meta, ...(body !== undefined ? { body } : {}), resolve, reject });
      this.writing ??= this.drainQueue();
    });
  }

  /** Writes queued batches, as many as fit in one group each time, until none wait. */
  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      let n = 0;
      let size = 0;
      while (n < this.queue.length && (n === 0 || size + this.queue[n]!.events.length <= MAX_GROUP_EVENTS)) size += this.queue[n++]!.events.length;
      const group = this.queue.splice(0, n);
      try {
        const answers = await this.applyGroup(group);
        group.forEach((b, i) => b.resolve(answers[i]!));
      } catch (err) {
        for (const b of group) b.reject(err);
      }
    }
    this.writing = undefined;
  }

  /**
   * One look-up and one atomic write for the group; each batch gets its own record and answer. The
   * group's new ids go into the Set as they are checked (one insert per event, its size telling new from seen; a
   * separate set of this group's ids, merged after the write, doubled that in the profile) and come
   * out again if the write fails, so a refused write stores nothing and forgets nothing.
   */
  private async applyGroup(group: PendingBatch[]): Promise<Array<{ stored: number; duplicates: number }>> {
    const claimed: string[] = [];
    const c: SinkCounts = { ...this.counts_ };
    const ops: Put[] = [];
    const answers = group.map((b) => {
      const fresh: VigilEvent[] = [];
      const freshIds: string[] = [];
      for (const e of b.events) {
        // One hash operation per event: the Set grows only for an id it did not hold.
        const before = this.ids.size;
        this.ids.add(e.id);
        if (this.ids.size === before) continue;
        freshIds.push(e.id);
        fresh.push(e);
      }
      for (const id of freshIds) claimed.push(id);
      const first = c.stored;
      c.batches++;
      c.received += b.events.length;
      c.stored += fresh.length;
      c.duplicates += b.events.length - fresh.length;
      if (fresh.length > 0) {
        const head = { first, batch: c.batches, at: new Date().toISOString(), ...b.meta };
        ops.push(...recordOps(head, fresh, fresh.length === b.events.length ? b.body : undefined));
        ops.push({ type: "put", key: `ids!${pad(first)}`, value: JSON.stringify(freshIds) });
      }
      return { stored: fresh.length, duplicates: b.events.length - fresh.length };
    });
    ops.push({ type: "put", key: "meta!counts", value: JSON.stringify(c) });
    try {
      await this.db.batch<string, string | Buffer>(ops, {});
    } catch (err) {
      for (const id of claimed) this.ids.delete(id);
      throw err;
    }
    // Only the group's own counts: requests bumped while the write was in flight (several uploads at
    // once) must not be overwritten by the copy taken before it.
    this.counts_.batches = c.batches;
    this.counts_.received = c.received;
    this.counts_.stored = c.stored;
    this.counts_.duplicates = c.duplicates;
    this.notify();
    return answers;
  }

  /** Stored batches in arrival order, starting with the one that holds event index `after + 1`. */
  async *batches(after = -1): AsyncGenerator<StoredBatch> {
    let start = `b!${pad(0)}`;
    for await (const k of this.db.keys({ lte: `b!${pad(after + 1)}`, gte: "b!", reverse: true, limit: 1 })) start = k;
    for await (const v of this.db.values({ gte: start, lt: "b~" })) {
      const r = JSON.parse(v) as StoredRecord;
      if (!("eventsGzip" in r)) {
        yield r;
        continue;
      }
      const { eventsGzip: _, ...head } = r;
      const gz = await this.db.get(`g!${pad(r.first)}`, { valueEncoding: "buffer" });
      if (gz === undefined) throw new Error(`store: batch ${r.batch} (b!${pad(r.first)}) has no g! record: the store is damaged`);
      yield { ...head, events: JSON.parse(gunzipSync(gz).toString("utf8")) as VigilEvent[] };
    }
  }

  /** Up to `limit` stored events after arrival index `after`, in arrival order. */
  async events(after = -1, limit = 10_000): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for await (const b of this.batches(after)) {
      for (let i = 0; i < b.events.length && out.length < limit; i++) {
        const index = b.first + i;
        if (index > after) out.push({ index, batch: b.batch, event: b.events[i]! });
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  async has(id: string): Promise<boolean> {
    return this.ids.has(id);
  }

  async close(): Promise<void> {
    await this.writing;
    await this.db.put("meta!counts", JSON.stringify(this.counts_)).catch(() => undefined);
    await this.db.close();
  }
}

const EVENTS_KEY = Buffer.from(',"events":');
const CLOSE = Buffer.from("}");

/** A batch record as level holds it: the events inline, or (`eventsGzip`) the gzipped body under `g!<first>`. */
type StoredRecord = StoredBatch | (Omit<StoredBatch, "events"> & { eventsGzip: true });

/**
 * The puts of one batch record. With the body as received (every event new), it is kept as it came:
 * a gzipped body under its own `g!` key (a twelfth of the bytes for level to log, sort and compact —
 * level's threads were a third of the sink's CPU in the drain bench with the body stored unzipped),
 * else the record's JSON around the body's bytes, handed to level as a buffer (as a string it had
 * to encode ~330 kB of UTF-8 per batch again). Without one, the events are serialised.
 */
function recordOps(head: Omit<StoredBatch, "events">, events: VigilEvent[], body?: ReceivedBody): Put[] {
  const key = `b!${pad(head.first)}`;
  if (body === undefined) return [{ type: "put", key, value: JSON.stringify({ ...head, events } satisfies StoredBatch) }];
  if (body.gzip) {
    return [
      { type: "put", key, value: JSON.stringify({ ...head, eventsGzip: true } satisfies StoredRecord) },
      { type: "put", key: `g!${pad(head.first)}`, value: Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength), valueEncoding: "buffer" },
    ];
  }
  const headText = Buffer.from(JSON.stringify(head).slice(0, -1));
  return [{ type: "put", key, value: Buffer.concat([headText, EVENTS_KEY, body.bytes, CLOSE]), valueEncoding: "buffer" }];
}

/** Every stored event id: the `ids!` arrays, and the `id!<id>` keys of a store written before them. */
async function storedIds(db: Level<string, string>): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const v of db.values({ gte: "ids!", lt: "ids~" })) for (const id of JSON.parse(v) as string[]) ids.add(id);
  for await (const k of db.keys({ gte: "id!", lt: 'id"' })) ids.add(k.slice(3));
  return ids;
}
