import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createReadBudget } from "./read-budget.js";

describe("read budget per token", () => {
  it("given 2 reads at once, then a third is refused until one is released, and other tokens are not affected", () => {
    const b = createReadBudget({ readsPerToken: 2, replaysPerToken: 1, readEventsPerMinute: 1_000 }, () => 0);
    const a1 = b.reserveRead("a");
    const a2 = b.reserveRead("a");
    assert.ok(a1.ok && a2.ok);
    const a3 = b.reserveRead("a");
    assert.equal(a3.ok, false);
    assert.ok(!a3.ok && a3.code === "rate_limited" && a3.retryAfterMs > 0);
    assert.ok(b.reserveRead("b").ok);
    a1.release();
    a1.release(); // twice is once
    assert.deepEqual(b.running("a"), { reads: 1, replays: 0 });
    assert.ok(b.reserveRead("a").ok);
  });

  it("given the events budget spent, then reads are refused with the time until it refills", () => {
    let now = 0;
    const b = createReadBudget({ readsPerToken: 5, replaysPerToken: 1, readEventsPerMinute: 6_000 }, () => now);
    const r = b.reserveRead("a");
    assert.ok(r.ok);
    b.spend("a", 6_600); // 600 below zero
    r.release();
    const refused = b.reserveRead("a");
    assert.ok(!refused.ok && refused.code === "rate_limited");
    assert.equal(refused.retryAfterMs, 6_010); // (600 + 1) events at 100 per second
    now = 6_010;
    assert.ok(b.reserveRead("a").ok);
  });

  it("given one replay slot, then a second replay is refused with code limit until the first ends", () => {
    const b = createReadBudget({ readsPerToken: 2, replaysPerToken: 1, readEventsPerMinute: 1_000 });
    const first = b.reserveReplay("a");
    assert.ok(first.ok);
    const second = b.reserveReplay("a");
    assert.ok(!second.ok && second.code === "limit");
    first.release();
    assert.ok(b.reserveReplay("a").ok);
  });
});
