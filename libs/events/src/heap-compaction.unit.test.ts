import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { heapCompactionMsFromEnv, startHeapCompaction } from "./heap-compaction.js";
import { pino } from "pino";

test("given gc() exposed, when the interval passes, then a full concurrent collection runs", async () => {
  let asked: unknown;
  const keepAlive = setTimeout(() => undefined, 10_000); // the compaction's own timer is unref'd
  const ran = new Promise<void>((resolve) => {
    const stop = startHeapCompaction(10, undefined, (o) => {
      asked = o;
      stop();
      resolve();
    });
  });
  await ran;
  clearTimeout(keepAlive);
  assert.deepEqual(asked, { type: "major", execution: "async" });
});

test("given node without --expose-gc, then it says so once and does nothing; 0 means off", () => {
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (l: string) => void lines.push(l) });
  startHeapCompaction(60_000, log, undefined)();
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /--expose-gc/);
  startHeapCompaction(0, log, () => assert.fail("0 is off"))();
  assert.equal(heapCompactionMsFromEnv({ VIGIL_HEAP_COMPACT_MS: "60000" }), 60_000);
  assert.equal(heapCompactionMsFromEnv({ VIGIL_HEAP_COMPACT_MS: "soon" }), 0);
  assert.equal(heapCompactionMsFromEnv({}), 0);
});

test("in a real node with --expose-gc, the scheduled collection runs without error and then logs the memory by kind at debug", () => {
  const script = `import("${new URL("./heap-compaction.js", import.meta.url).href}").then(({ startHeapCompaction }) => { startHeapCompaction(20, { isLevelEnabled: (l) => l === "debug", warn: (o, m) => { console.error(m); process.exit(1); }, debug: (o, m) => { console.log(JSON.stringify({ ...o, msg: m })); process.exit(0); } }); setTimeout(() => process.exit(3), 2000); })`;
  const r = spawnSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr || "no debug line within 2 s");
  const line = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
  assert.equal(line.msg, "heap compacted");
  for (const k of ["rss", "heapTotal", "heapUsed", "external", "new_space", "old_space", "code_space"]) assert.equal(typeof line[k], "number", `${k} in ${r.stdout}`);
});
