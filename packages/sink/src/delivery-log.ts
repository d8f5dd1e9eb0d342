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
  /**
   * Per id, the index of the batch that first delivered it (its time is `batchTimes[index]`); the
   * count only for ids delivered more than once. A number per id, not a record object: the log is on
   * during the drain benchmark, and one object per event was a visible share of the sink's CPU.
   */
  private firstBatch = new Map<string, number>();
  private repeats = new Map<string, number>();
  private batchTimes: number[] = [];
  private deliveries = 0;

  /** One accepted batch: its events' ids in the order received. */
  record(ids: readonly string[], at: number = Date.now()): void {
    const batch = this.batchTimes.length;
    this.batchTimes.push(at);
    this.deliveries += ids.length;
    for (const id of ids) {
      if (!this.firstBatch.has(id)) this.firstBatch.set(id, batch);
      else this.repeats.set(id, (this.repeats.get(id) ?? 1) + 1);
    }
  }

  snapshot(): DeliverySnapshot {
    const ids: Record<string, DeliveryRecord> = {};
    for (const [id, batch] of this.firstBatch) ids[id] = { count: this.repeats.get(id) ?? 1, firstAt: this.batchTimes[batch]! };
    return {
      batches: this.batchTimes.length,
      deliveries: this.deliveries,
      ...(this.batchTimes.length > 0 ? { firstBatchAt: this.batchTimes[0], lastBatchAt: this.batchTimes.at(-1) } : {}),
      ids,
    };
  }

  reset(): void {
    this.firstBatch = new Map();
    this.repeats = new Map();
    this.batchTimes = [];
    this.deliveries = 0;
  }
}
