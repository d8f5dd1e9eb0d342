import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pruneRotatedLogs } from "./log-prune.js";

describe("log pruning (cmd.logs.prune, the disk-pressure policy's first step)", () => {
  it("given rotated logs, then those beyond the newest keepRotated go, live logs and the newest stay, and what is left is measured per log, most first", async () => {
    const root = mkdtempSync(join(tmpdir(), "vigil-prune-"));
    const a = join(root, "supervisor-logs");
    const b = join(root, "service-logs");
    mkdirSync(a);
    mkdirSync(b);
    const put = (dir: string, name: string, bytes: number) => writeFileSync(join(dir, name), Buffer.alloc(bytes, 120));
    put(a, "camera.log", 100);
    put(a, "camera.log.1", 1000);
    put(a, "camera.log.2", 1000);
    put(a, "camera.log.3", 1000);
    put(a, "sensor.log", 50);
    put(a, "notes.txt", 10_000); // not a log: untouched, not counted
    put(b, "decider.log", 300);
    put(b, "decider.log.2", 700);
    try {
      const r = await pruneRotatedLogs([a, b, join(root, "missing")], 1);
      assert.equal(r.removedFiles, 3);
      assert.equal(r.freedBytes, 2700);
      assert.deepEqual(r.writers, [
        { worker: "camera", bytes: 1100 },
        { worker: "decider", bytes: 300 },
        { worker: "sensor", bytes: 50 },
      ]);
      assert.deepEqual(r.errors, [], "a missing folder is no error");
      assert.ok(existsSync(join(a, "camera.log")) && existsSync(join(a, "camera.log.1")) && !existsSync(join(a, "camera.log.2")));
      assert.ok(existsSync(join(a, "notes.txt")));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
