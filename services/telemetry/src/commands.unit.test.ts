import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scaledRules } from "./commands.js";

describe("telemetry downsample command (the disk-pressure policy's second step)", () => {
  it("multiplies every one-in-N rule by the factor (health samples too when unset), keeps 0 as 'never', and factor 1 gives the configured rules back", () => {
    assert.deepEqual(scaledRules({ "obs.health.sample": 10, "sys.service.heartbeat": 0 }, 10), { "obs.health.sample": 100, "sys.service.heartbeat": 0 });
    assert.deepEqual(scaledRules({}, 5), { "obs.health.sample": 5 });
    assert.deepEqual(scaledRules({ "obs.health.sample": 10 }, 1), { "obs.health.sample": 10 });
  });
});
