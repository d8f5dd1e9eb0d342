import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_SERVICE_MEMORY, parseConfig, ServiceMemorySchema } from "@vigil/events";
import { serviceMemoryEnv, serviceNodeArgs } from "./service-memory.js";

test("by default every service gets a bounded V8 heap (old 128 MB, semi-space 2 MB), two malloc arenas and a full GC every 60 s", () => {
  const m = parseConfig({}, { env: {} }).serviceMemory;
  assert.deepEqual(m, DEFAULT_SERVICE_MEMORY);
  assert.deepEqual(serviceNodeArgs(m), ["--max-old-space-size=128", "--max-semi-space-size=2", "--expose-gc"]);
  assert.deepEqual(serviceNodeArgs(m, "gateway"), ["--max-old-space-size=128", "--max-semi-space-size=2", "--expose-gc"]);
  assert.deepEqual(serviceMemoryEnv(m, {}), { MALLOC_ARENA_MAX: "2", VIGIL_HEAP_COMPACT_MS: "60000" });
});

test("telemetry, which holds whole batches while they upload, gets an 8 MB semi-space; a service's own entry overrides the shared bounds", () => {
  assert.deepEqual(serviceNodeArgs(DEFAULT_SERVICE_MEMORY, "telemetry"), ["--max-old-space-size=128", "--max-semi-space-size=8", "--expose-gc"]);
  const m = parseConfig({ serviceMemory: { maxOldSpaceMb: 96, compactEverySeconds: 0, services: { health: { maxOldSpaceMb: 64 } } } }, { env: {} }).serviceMemory;
  assert.deepEqual(serviceNodeArgs(m, "health"), ["--max-old-space-size=64", "--max-semi-space-size=2"]);
  assert.deepEqual(serviceNodeArgs(m, "telemetry"), ["--max-old-space-size=96", "--max-semi-space-size=2"], "a services: map given replaces the default one");
});

test("0 leaves each setting at Node's or glibc's default, and V8 alone decides when to collect", () => {
  const m = ServiceMemorySchema.parse({ maxOldSpaceMb: 0, maxSemiSpaceMb: 0, mallocArenaMax: 0, compactEverySeconds: 0 });
  assert.deepEqual(serviceNodeArgs(m), []);
  assert.deepEqual(serviceMemoryEnv(m, {}), {});
});

test("an operator's own MALLOC_ARENA_MAX is kept", () => {
  assert.deepEqual(serviceMemoryEnv(DEFAULT_SERVICE_MEMORY, { MALLOC_ARENA_MAX: "4" }), { VIGIL_HEAP_COMPACT_MS: "60000" });
});

test("a wrong value is refused naming the field", () => {
  for (const [field, value] of [["maxOldSpaceMb", 8], ["maxSemiSpaceMb", -1], ["mallocArenaMax", 1.5], ["maxOldSpaceMb", "big"], ["maxHeap", 1], ["compactEverySeconds", 5], ["compactEverySeconds", 7200], ["services", { sensor: { maxOldSpaceMb: 64 } }], ["services", { health: { maxOldSpaceMb: 8 } }]] as const) {
    assert.throws(() => parseConfig({ serviceMemory: { [field]: value } }, { env: {} }), (e: Error) => e instanceof ConfigError && e.message.includes("serviceMemory") && e.message.includes(field), `${field}: ${value}`);
  }
});
