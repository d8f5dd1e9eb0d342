import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PidRegistry } from "./local-state.js";

test("given pids changing several times in one tick, when the writes settle, then pids.json holds the latest, with each process's start time", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "vigil-pids-")), "pids.json");
  const registry = new PidRegistry(file);
  registry.write({ a: process.pid });
  registry.write({ a: process.pid, b: process.ppid });
  registry.write({ b: process.ppid });
  await registry.settled();
  const entries = JSON.parse(readFileSync(file, "utf8")) as Record<string, { pid: number; start?: string }>;
  assert.deepEqual(Object.keys(entries), ["b"]);
  assert.equal(entries.b!.pid, process.ppid);
  assert.match(entries.b!.start ?? "", /^\d+$/);
});

test("given a folder that cannot be written, the error goes to onError and the supervisor's loop goes on", async () => {
  const errors: string[] = [];
  const registry = new PidRegistry("/proc/vigil-no-such-dir/pids.json", (err) => errors.push(err.message));
  registry.write({ a: process.pid });
  await registry.settled();
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /ENOENT|EACCES|EROFS/);
});
