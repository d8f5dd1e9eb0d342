import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TRACE_STEPS, traceBreakdown } from "./recovery-trace.js";

/** One kill's trace lines as the services write them, starting at `t0`, each step `step` ms after the one before. */
function killLines(t0: number, step: number): { supervisor: string[]; decider: string[] } {
  const p = (trace: string, at: number, more: object = {}) => JSON.stringify({ trace, at, ...more });
  let at = t0;
  const next = () => (at += step);
  const sup = [p("sup.exit", at)];
  sup.push(p("sup.exited", next()), p("pub.send", next(), { type: "io.vigil.obs.worker.exited" }));
  const dec = [p("con.msg", next(), { durable: "decider", subject: "vigil.d.obs.worker.exited" }), p("con.handler", next(), { durable: "decider", subject: "vigil.d.obs.worker.exited" }), p("pub.send", next(), { type: "io.vigil.cmd.worker.restart" })];
  sup.push(p("sup.live", next()), p("sup.cmd", next()), p("sup.execute", next()), p("sup.dequeued", next()), p("sup.spawned", next()));
  return { supervisor: sup, decider: dec };
}

test("given the services' logs of two complete kills and one cut short, each step is measured per kill and the incomplete one is left out", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-trace-"));
  const a = killLines(1_000, 0.5);
  const b = killLines(2_000, 1);
  const cut = killLines(3_000, 1);
  cut.supervisor = cut.supervisor.slice(0, 3); // no restart heard: left out
  const noise = ['{"level":30,"msg":"decided"}', "not json", '{"trace":"sup.exit","at":'];
  writeFileSync(join(dir, "supervisor.log"), [...a.supervisor, ...noise, ...b.supervisor, ...cut.supervisor].join("\n"));
  writeFileSync(join(dir, "decider.log"), [...a.decider, ...b.decider].join("\n"));
  const r = traceBreakdown(dir);
  assert.equal(r.kills, 2);
  for (const s of TRACE_STEPS) {
    assert.equal(r.steps[s.name]!.n, 2, s.name);
    assert.equal(r.steps[s.name]!.min, 0.5, s.name);
    assert.equal(r.steps[s.name]!.max, 1, s.name);
  }
  assert.equal(r.steps.total!.max, TRACE_STEPS.length);
});
