import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readDockerEvent, splitLines } from "./engine-events.js";

describe("docker driver: reading the engine's event stream", () => {
  it("splits chunks into complete non-blank lines and keeps the unfinished rest for the next chunk", () => {
    assert.deepEqual(splitLines('{"a":1}\n\n  {"b":2}  \n{"c"'), { lines: ['{"a":1}', '{"b":2}'], rest: '{"c"' });
    assert.deepEqual(splitLines('{"c"'), { lines: [], rest: '{"c"' });
    assert.deepEqual(splitLines(':3}\n'), { lines: [":3}"], rest: "" });
  });

  it("a die carries the exit code (null when the engine gave none); old engines' status/id fields work too", () => {
    assert.deepEqual(readDockerEvent({ Type: "container", Action: "die", Actor: { ID: "c1", Attributes: { exitCode: "137" } } }), { kind: "die", id: "c1", code: 137 });
    assert.deepEqual(readDockerEvent({ status: "die", id: "c2" }), { kind: "die", id: "c2", code: null });
  });

  it("oom and health_status are read; other actions are ignored", () => {
    assert.deepEqual(readDockerEvent({ Action: "oom", Actor: { ID: "c1" } }), { kind: "oom", id: "c1" });
    assert.deepEqual(readDockerEvent({ Action: "health_status: unhealthy", Actor: { ID: "c1", Attributes: { "io.vigil.workload": "plc" } } }), {
      kind: "health",
      id: "c1",
      worker: "plc",
      status: "unhealthy",
    });
    assert.deepEqual(readDockerEvent({ Action: "health_status", Actor: { ID: "c1" } }), { kind: "health", id: "c1" });
    assert.deepEqual(readDockerEvent({ Action: "start", Actor: { ID: "c1" } }), { kind: "ignored" });
    assert.deepEqual(readDockerEvent({}), { kind: "ignored" });
  });
});
