import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkDeliveries } from "./delivery-check.js";

describe("telemetry delivery checker (ids published vs. what the cloud stored and received)", () => {
  it("reports nothing when every id was stored once and delivered once", () => {
    const r = checkDeliveries(["a", "b", "c"], ["a", "b", "c"], { a: { count: 1 }, b: { count: 1 }, c: { count: 1 } });
    assert.deepEqual([r.lost, r.duplicates_stored, r.wire_resends], [0, 0, 0]);
  });

  it("reports a missing id as lost and a doubled stored one as a duplicate", () => {
    const r = checkDeliveries(["a", "b", "c"], ["a", "c", "c"], { a: { count: 1 }, c: { count: 2 } });
    assert.equal(r.lost, 1);
    assert.deepEqual(r.lost_examples, ["b"]);
    assert.equal(r.duplicates_stored, 1);
    assert.equal(r.wire_resends, 1, "c was delivered twice");
  });

  it("counts a wire re-send (delivered twice, stored once) apart from stored duplicates", () => {
    const r = checkDeliveries(["a", "b"], ["a", "b"], new Map([["a", 3], ["b", 1]]));
    assert.equal(r.duplicates_stored, 0);
    assert.equal(r.wire_resends, 2);
    assert.equal(r.ids_resent, 1);
  });

  it("counts the services' own stored events apart, their repeats as duplicates", () => {
    const r = checkDeliveries(["a"], ["a", "hb1", "hb1"], { a: { count: 1 } });
    assert.equal(r.others_stored, 1);
    assert.equal(r.duplicates_stored, 1);
    assert.equal(r.lost, 0);
  });
});
