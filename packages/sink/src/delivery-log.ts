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
   * Each accepted batch's ids (the array the sink made for it) and its time; the per-id record is
   * built only when a snapshot is asked for. The log is on during the drain benchmark, and a map
   * update per event (a look-up and an insert in a map of every id) was ~6 % of the sink's CPU there.
   */
  private batches: Array<{ ids: readonly string[]; at: number }> = [];
  private deliveries = 0;

  /** One accepted batch: its events' ids in the order received (the array is kept, not copied). */
  record(ids: readonly string[], at: number = Date.now()): void {
    this.batches.push({ ids, at });
    this.deliveries += ids.length;
  }

  snapshot(): DeliverySnapshot {
    const ids: Record<string, DeliveryRecord> = {};
    const seen = new Map<string, DeliveryRecord>();
    for (const b of this.batches) {
      for (const id of b.ids) {
        const r = seen.get(id);
        if (r) r.count++;
        else seen.set(id, { count: 1, firstAt: b.at });
      }
    }
    for (const [id, r] of seen) ids[id] = r;
    return {
      batches: this.batches.length,
      deliveries: this.deliveries,
      ...(this.batches.length > 0 ? { firstBatchAt: this.batches[0]!.at, lastBatchAt: this.batches.at(-1)!.at } : {}),
      ids,
    };
  }

  reset(): void {
    this.batches = [];
    this.deliveries = 0;
  }
}
