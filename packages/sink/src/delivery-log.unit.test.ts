import { test } from "node:test";
import assert from "node:assert/strict";
import { DeliveryLog } from "./delivery-log.js";

test("the delivery log counts every delivery of an id (repeats included) and when it first came; reset empties it", () => {
  const log = new DeliveryLog();
  log.record(["a", "b"], 1000);
  log.record(["b", "c"], 2000);
  const s = log.snapshot();
  assert.equal(s.batches, 2);
  assert.equal(s.deliveries, 4);
  assert.deepEqual(s.ids, { a: { count: 1, firstAt: 1000 }, b: { count: 2, firstAt: 1000 }, c: { count: 1, firstAt: 2000 } });
  assert.deepEqual([s.firstBatchAt, s.lastBatchAt], [1000, 2000]);
  log.reset();
  assert.deepEqual(log.snapshot(), { batches: 0, deliveries: 0, ids: {} });
});
