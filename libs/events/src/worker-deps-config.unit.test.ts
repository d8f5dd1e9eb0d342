import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, dependencyOrder, parseConfig } from "./config.js";

const sleeper = (name: string, extra: object = {}) => ({ name, command: "sleep", args: ["1"], ...extra });
const refused = (workers: unknown[]) => {
  try {
    parseConfig({ workers }, { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return assert.fail("the config was accepted");
};

describe("worker config: dependsOn, ready, limits (issue 15)", () => {
  it("refuses a cycle, naming it, and a dependency that is not declared", () => {
    assert.match(refused([sleeper("a", { dependsOn: ["b"] }), sleeper("b", { dependsOn: ["a"] })]), /workers\[0\]\.dependsOn: dependency cycle: a → b → a/);
    assert.match(refused([sleeper("a", { dependsOn: ["ghost"] })]), /workers\[0\]\.dependsOn\[0\]: "ghost" is not a declared worker/);
    assert.match(refused([sleeper("a", { dependsOn: ["a"] })]), /cannot depend on itself/);
  });

  it("orders by dependency, declaration order among independent ones", () => {
    assert.deepEqual(dependencyOrder([{ name: "ui", dependsOn: ["api"] }, { name: "x" }, { name: "api", dependsOn: ["db"] }, { name: "db" }]), { ok: true, order: ["x", "db", "api", "ui"] });
  });

  it("reads memory sizes and needs exactly one readiness condition", () => {
    const c = parseConfig({ workers: [sleeper("a", { limits: { cpu: 0.5, memory: "256m", pids: 64 } })] }, { env: {} });
    assert.deepEqual(c.workers[0]!.limits, { cpu: 0.5, memory: 256 * 1024 * 1024, pids: 64 });
    assert.match(refused([sleeper("a", { limits: { memory: "lots" } })]), /limits\.memory/);
    assert.match(refused([sleeper("a", { ready: { stdout: "x", delayMs: 5 } })]), /exactly one of stdout, delayMs, probe/);
    assert.match(refused([sleeper("a", { ready: { probe: true } })]), /ready\.probe: needs the worker's probe/);
    assert.match(refused([sleeper("a", { ready: { stdout: "(" } })]), /not a valid regular expression/);
  });
});
