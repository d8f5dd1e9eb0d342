import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_SERVICE_MEMORY, parseConfig, ServiceMemorySchema } from "@vigil/events";
import { serviceMallocEnv, serviceNodeArgs } from "./service-memory.js";

test("by default every service gets a bounded V8 heap (old 128 MB, semi-space 2 MB) and two malloc arenas", () => {
  const m = parseConfig({}, { env: {} }).serviceMemory;
  assert.deepEqual(m, DEFAULT_SERVICE_MEMORY);
  assert.deepEqual(serviceNodeArgs(m), ["--max-old-space-size=128", "--max-semi-space-size=2"]);
  assert.deepEqual(serviceMallocEnv(m, {}), { MALLOC_ARENA_MAX: "2" });
});

test("0 leaves each setting at Node's or glibc's default", () => {
  const m = ServiceMemorySchema.parse({ maxOldSpaceMb: 0, maxSemiSpaceMb: 0, mallocArenaMax: 0 });
  assert.deepEqual(serviceNodeArgs(m), []);
  assert.deepEqual(serviceMallocEnv(m, {}), {});
});

test("an operator's own MALLOC_ARENA_MAX is kept", () => {
  assert.deepEqual(serviceMallocEnv(DEFAULT_SERVICE_MEMORY, { MALLOC_ARENA_MAX: "4" }), {});
});

test("a wrong value is refused naming the field", () => {
  for (const [field, value] of [["maxOldSpaceMb", 8], ["maxSemiSpaceMb", -1], ["mallocArenaMax", 1.5], ["maxOldSpaceMb", "big"], ["maxHeap", 1]] as const) {
    assert.throws(() => parseConfig({ serviceMemory: { [field]: value } }, { env: {} }), (e: Error) => e instanceof ConfigError && e.message.includes("serviceMemory") && e.message.includes(field), `${field}: ${value}`);
  }
});
