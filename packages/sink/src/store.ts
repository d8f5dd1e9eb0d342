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

/**
 * Durable, de-duplicating event store. Keys: `id!<event id>` (the dedup index), `b!<first index>` (one
 * record per accepted batch, in arrival order), `meta!counts`. Batches are applied one at a time, so
 * the id check and the write never interleave; each batch is one atomic level write.
 */
export class EventStore {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(c: SinkCounts) => void>();
  private constructor(
    private readonly db: Level<string, string>,
    private counts_: SinkCounts,
  ) {}

  static async open(dir: string): Promise<EventStore> {
    const db = new Level<string, string>(dir, { valueEncoding: "utf8" });
    await db.open();
    const saved = await db.get("meta!counts");
    return new EventStore(db, { ...ZERO, ...(saved ? (JSON.parse(saved) as Partial<SinkCounts>) : {}) });
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

  /** Stores the events whose ids are new; returns how many were new and how many repeats. */
  add(events: VigilEvent[], meta: { firstSeq?: number; lastSeq?: number } = {}): Promise<{ stored: number; duplicates: number }> {
    const run = this.chain.then(() => this.apply(events, meta));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async apply(events: VigilEvent[], meta: { firstSeq?: number; lastSeq?: number }): Promise<{ stored: number; duplicates: number }> {
    const known = await this.db.getMany(events.map((e) => `id!${e.id}`));
    const seen = new Set<string>();
    const fresh: VigilEvent[] = [];
    events.forEach((e, i) => {
      if (known[i] !== undefined || seen.has(e.id)) return;
      seen.add(e.id);
      fresh.push(e);
    });
    const first = this.counts_.stored;
    const c: SinkCounts = {
      ...this.counts_,
      batches: this.counts_.batches + 1,
      received: this.counts_.received + events.length,
      stored: first + fresh.length,
      duplicates: this.counts_.duplicates + (events.length - fresh.length),
    };
    const ops: Array<{ type: "put"; key: string; value: string }> = fresh.map((e, i) => ({ type: "put", key: `id!${e.id}`, value: String(first + i) }));
    if (fresh.length > 0) {
      const record: StoredBatch = { first, batch: c.batches, at: new Date().toISOString(), ...meta, events: fresh };
      ops.push({ type: "put", key: `b!${pad(first)}`, value: JSON.stringify(record) });
    }
    ops.push({ type: "put", key: "meta!counts", value: JSON.stringify(c) });
    await this.db.batch(ops);
    // Only this batch's own counts: requests bumped while the write was in flight (several uploads at
    // once) must not be overwritten by the copy taken before it.
    this.counts_.batches = c.batches;
    this.counts_.received = c.received;
    this.counts_.stored = c.stored;
    this.counts_.duplicates = c.duplicates;
    this.notify();
    return { stored: fresh.length, duplicates: events.length - fresh.length };
  }

  /** Stored batches in arrival order, starting with the one that holds event index `after + 1`. */
  async *batches(after = -1): AsyncGenerator<StoredBatch> {
    let start = `b!${pad(0)}`;
    for await (const k of this.db.keys({ lte: `b!${pad(after + 1)}`, gte: "b!", reverse: true, limit: 1 })) start = k;
    for await (const v of this.db.values({ gte: start, lt: "b~" })) yield JSON.parse(v) as StoredBatch;
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
    return (await this.db.get(`id!${id}`)) !== undefined;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.db.put("meta!counts", JSON.stringify(this.counts_)).catch(() => undefined);
    await this.db.close();
  }
}
