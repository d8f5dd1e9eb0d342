/**
 * What the sink received, delivery by delivery — every event of every accepted (2xx) batch, repeats
 * included — so a checker can tell a wire re-send (the same id delivered twice, stored once) from a
 * duplicate in the store, and a lost event from one that is merely late. The store de-duplicates by id,
 * so its counts cannot show either. In memory only (a test and benchmark hook, off by default: it
 * grows with every distinct id); reset with `reset()` (DELETE /deliveries).
 */

export interface DeliveryRecord {
  /** Accepted batches that held this id. */
  count: number;
  /** When (epoch ms) it was first delivered. */
  firstAt: number;
}

export interface DeliverySnapshot {
  /** Accepted batches since the last reset. */
  batches: number;
  /** Events in those batches, repeats included. */
  deliveries: number;
  /** Epoch ms of the first and the last accepted batch (undefined before the first). */
  firstBatchAt?: number;
  lastBatchAt?: number;
  /** Per event id: how many deliveries, and when the first one was. */
  ids: Record<string, DeliveryRecord>;
}

export class DeliveryLog {
  private ids = new Map<string, DeliveryRecord>();
  private batches = 0;
  private deliveries = 0;
  private firstBatchAt: number | undefined;
  private lastBatchAt: number | undefined;

  /** One accepted batch: its events' ids in the order received. */
  record(ids: readonly string[], at: number = Date.now()): void {
    this.batches++;
    this.deliveries += ids.length;
    this.firstBatchAt ??= at;
    this.lastBatchAt = at;
    for (const id of ids) {
      const r = this.ids.get(id);
      if (r) r.count++;
      else this.ids.set(id, { count: 1, firstAt: at });
    }
  }

  snapshot(): DeliverySnapshot {
    return {
      batches: this.batches,
      deliveries: this.deliveries,
      ...(this.firstBatchAt !== undefined ? { firstBatchAt: this.firstBatchAt, lastBatchAt: this.lastBatchAt } : {}),
      ids: Object.fromEntries([...this.ids].map(([id, r]) => [id, { ...r }])),
    };
  }

  reset(): void {
    this.ids = new Map();
    this.batches = 0;
    this.deliveries = 0;
    this.firstBatchAt = undefined;
    this.lastBatchAt = undefined;
  }
}
