import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const script = `import("${new URL("./trace-timing.js", import.meta.url).href}").then(({ traceAt, tracing }) => { traceAt("sup.exit", { pid: 7 }); console.log(tracing()); })`;

test("with VIGIL_TRACE_TIMING=1 a trace point is one JSON line on stderr with a sub-ms epoch time; without, nothing", () => {
  const on = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, VIGIL_TRACE_TIMING: "1" } });
  const line = JSON.parse(on.stderr.trim()) as { trace: string; at: number; pid: number };
  assert.equal(line.trace, "sup.exit");
  assert.equal(line.pid, 7);
  assert.ok(Math.abs(line.at - Date.now()) < 10_000, `at ${line.at} is epoch ms`);
  assert.equal(on.stdout.trim(), "true");
  const off = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, VIGIL_TRACE_TIMING: "" } });
  assert.equal(off.stderr, "");
  assert.equal(off.stdout.trim(), "false");
});
