import { test } from "node:test";
import assert from "node:assert/strict";
import { makeEvent } from "@vigil/events";
import { validateEvent } from "./validate.js";

const ev = () => makeEvent("edge-001", "vigil/edge-001/test", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: 5 }) as unknown as Record<string, unknown>;

test("events the fast check sends to the schema still get its error naming the field", () => {
  const r = validateEvent({ ...ev(), time: "yesterday" });
  assert.equal(r.ok, false);
  assert.match((r as { reason: string }).reason, /not a Vigil CloudEvent: time: /);
  const extra = validateEvent({ ...ev(), extra: 1 });
  assert.equal(extra.ok, true);
  assert.equal("extra" in (extra as { event: object }).event, false, "stripped by the schema, as before");
});
