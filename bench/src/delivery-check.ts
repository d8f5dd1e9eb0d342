/**
 * Compares what was published with what the cloud got, id by id (the telemetry bench's checker):
 *  - lost: published ids the sink never stored;
 *  - duplicates_stored: stored records beyond one per id (the store is meant to de-duplicate; this
 *    counts what it actually holds, so a broken de-duplication shows);
 *  - wire_resends: deliveries of a published id beyond its first (sent again over the wire after a
 *    lost answer, a crash or a retry — harmless when the store de-duplicates, but traffic).
 * Ids the sink holds that were not published (the services' own events) are counted apart.
 */

export interface DeliveryCheck {
  published: number;
  lost: number;
  duplicates_stored: number;
  wire_resends: number;
  /** Published ids delivered more than once. */
  ids_resent: number;
  /** Stored ids that are not among the published ones. */
  others_stored: number;
  /** A few lost ids, for the report. */
  lost_examples: string[];
}

/**
 * @param published every id published, once each
 * @param stored every stored record's id, in store order (repeats are duplicates in the store)
 * @param deliveries per id, how many accepted deliveries carried it
 */
export function checkDeliveries(published: Iterable<string>, stored: Iterable<string>, deliveries: Record<string, { count: number }> | Map<string, number>): DeliveryCheck {
  const want = new Set(published);
  const storedCount = new Map<string, number>();
  for (const id of stored) storedCount.set(id, (storedCount.get(id) ?? 0) + 1);
  const delivered = (id: string): number => (deliveries instanceof Map ? (deliveries.get(id) ?? 0) : Object.hasOwn(deliveries, id) ? deliveries[id]!.count : 0);
  const r: DeliveryCheck = { published: want.size, lost: 0, duplicates_stored: 0, wire_resends: 0, ids_resent: 0, others_stored: 0, lost_examples: [] };
  for (const id of want) {
    const s = storedCount.get(id) ?? 0;
    if (s === 0) {
      r.lost++;
      if (r.lost_examples.length < 5) r.lost_examples.push(id);
    }
    if (s > 1) r.duplicates_stored += s - 1;
    const d = delivered(id);
    if (d > 1) {
      r.wire_resends += d - 1;
      r.ids_resent++;
    }
  }
  for (const [id, s] of storedCount) {
    if (want.has(id)) continue;
    r.others_stored++;
    if (s > 1) r.duplicates_stored += s - 1;
  }
  return r;
}

/**
 * The drain rate from the first accepted (2xx) batch to the first delivery of the last published id:
 * the events delivered after that first batch over the time between them (the first batch's own
 * events took its upload before the clock starts, so they are not counted).
 */
export function drainRateFromFirst2xx(published: readonly string[], deliveries: Record<string, { firstAt: number }>, firstBatchAt: number): { events_per_s: number; seconds: number } {
  let end = firstBatchAt;
  let afterFirst = 0;
  for (const id of published) {
    const at = Object.hasOwn(deliveries, id) ? deliveries[id]!.firstAt : undefined;
    if (at === undefined) continue;
    if (at > end) end = at;
    if (at > firstBatchAt) afterFirst++;
  }
  const seconds = (end - firstBatchAt) / 1000;
  return { events_per_s: seconds > 0 ? Math.round(afterFirst / seconds) : 0, seconds: Math.round(seconds * 1000) / 1000 };
}
