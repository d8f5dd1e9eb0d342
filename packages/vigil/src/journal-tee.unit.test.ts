import { it } from "node:test";
import assert from "node:assert/strict";
import { JOURNAL_LINE_MAX, journalTee, lineLevel } from "./journal-tee.js";

const collect = (level: Parameters<typeof journalTee>[1]) => {
  const out: string[] = [];
  return { out, tee: journalTee("decider", level, (l) => out.push(l), () => 1000) };
};

it("given warn, when a service logs info, warn and error lines, then only warn and error reach the journal", () => {
  const { out, tee } = collect("warn");
  tee('{"level":30,"msg":"a"}\n{"level":40,"msg":"b"}\n{"level":50,"msg":"c"}\n');
  assert.deepEqual(out, ['{"level":40,"msg":"b"}\n', '{"level":50,"msg":"c"}\n']);
});

it("given a line split across chunks, when its end arrives, then it is written once and whole", () => {
  const { out, tee } = collect("warn");
  tee('{"level":40,"ms');
  assert.equal(out.length, 0);
  tee('g":"split"}\n');
  assert.deepEqual(out, ['{"level":40,"msg":"split"}\n']);
});

it("given a crash's stack trace (not JSON), then it reaches the journal as an error JSON line naming the service", () => {
  const { out, tee } = collect("error");
  tee("TypeError: boom\n    at x (y.js:1:1)\n");
  assert.equal(out.length, 2);
  assert.deepEqual(JSON.parse(out[0]!), { level: 50, time: 1000, service: "decider", msg: "TypeError: boom" });
  assert.equal(lineLevel('{"level":30}'), 30);
});

it("given off, then nothing is written; given a runaway line, then the kept part is bounded", () => {
  const off = collect("off");
  off.tee('{"level":60}\n');
  assert.equal(off.out.length, 0);
  const { out, tee } = collect("warn");
  for (let i = 0; i < 100; i++) tee("x".repeat(JOURNAL_LINE_MAX));
  tee("\n");
  assert.equal(out.length, 1);
  assert.ok(out[0]!.length < JOURNAL_LINE_MAX + 200, `line of ${out[0]!.length} chars`);
});
