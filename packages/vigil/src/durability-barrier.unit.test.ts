// How the barrier coalesces passes: one at a time, and every request made during a pass shares the
// single pass after it (a pass that read last_seq before a request's event cannot answer it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { oneAtATime } from "./durability-barrier.js";

test("given a pass running, when three requests arrive, then they share one pass that starts after it", async () => {
  const started: number[] = [];
  const gates: Array<() => void> = [];
  const passes = oneAtATime(async () => {
    started.push(started.length + 1);
    await new Promise<void>((r) => gates.push(r));
    return started.length;
  });
  const first = passes.run();
  assert.ok(passes.busy());
  const requests = [passes.run(), passes.run(), passes.run()];
  assert.deepEqual(started, [1], "nothing starts while a pass runs");
  gates.shift()!();
  assert.equal(await first, 1);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [1, 2], "one follow-up pass for the three requests");
  gates.shift()!();
  assert.deepEqual(await Promise.all(requests), [2, 2, 2]);
  await passes.settled();
  assert.equal(passes.busy(), false);
});

test("given a pass that fails, when a request waits behind it, then the request still gets its own pass", async () => {
  let n = 0;
  const passes = oneAtATime(async () => {
    n++;
    if (n === 1) throw new Error("server restarting");
    return n;
  });
  const failed = passes.run().catch((e: Error) => e.message);
  const next = passes.run();
  assert.equal(await failed, "server restarting");
  assert.equal(await next, 2);
});
