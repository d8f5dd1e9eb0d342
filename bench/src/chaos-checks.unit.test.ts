import { strict as assert } from "node:assert";
import { test } from "node:test";
import { checkDelivery, checkRecovery, classifyErrors, planFaults, prng, rssGrowth, type StreamEntry } from "./chaos-checks.js";

const ev = (seq: number, type: string, data: Record<string, unknown> = {}, time = new Date(1_000 * seq).toISOString()) => ({ seq, id: `id-${seq}`, type: `io.vigil.${type}`, data, time });

test("given the sink holds every event up to the cut once, when checked, then nothing is lost or duplicated", () => {
  const stream: StreamEntry[] = [ev(1, "obs.demo.reading"), ev(2, "obs.demo.reading"), ev(3, "obs.demo.reading")];
  const r = checkDelivery(stream, 2, ["id-1", "id-2"]);
  assert.deepEqual([r.events, r.lost, r.duplicates], [2, 0, 0]);
});

test("given an event missing at the sink and one stored twice, when checked, then both are named", () => {
  const stream: StreamEntry[] = [ev(1, "obs.demo.reading"), ev(2, "obs.demo.reading"), ev(3, "obs.demo.reading")];
  const r = checkDelivery(stream, 3, ["id-1", "id-3", "id-3"]);
  assert.deepEqual(r.lostSeqs, [2]);
  assert.deepEqual(r.duplicateIds, ["id-3"]);
});

test("given a crash followed by a restart outcome, when checked, then the worker recovered", () => {
  const r = checkRecovery([ev(1, "obs.worker.exited", { worker: "w", expected: false, code: 1, signal: null }), ev(3, "out.worker.restarted", { worker: "w" })], ["w"]);
  assert.equal(r.crashes.length, 1);
  assert.equal(r.unrecovered.length, 0);
  assert.equal(r.crashes[0]!.recoveryMs, 2_000);
});

test("given a crash never followed by a start, when checked, then it is unrecovered unless the worker was escalated", () => {
  const crash = ev(1, "obs.worker.exited", { worker: "w", expected: false, code: 1, signal: null });
  assert.equal(checkRecovery([crash, ev(2, "obs.worker.started", { worker: "other" })], ["w", "other"]).unrecovered.length, 1);
  assert.equal(checkRecovery([crash, ev(2, "dec.incident.escalated", { worker: "w" })], ["w"]).unrecovered.length, 0);
  // An expected exit (Vigil stopped it) needs no recovery.
  assert.equal(checkRecovery([ev(1, "obs.worker.exited", { worker: "w", expected: true })], ["w"]).crashes.length, 0);
});

test("given RSS samples over five minutes, when judged, then growth compares the first minute's median to the last's; short lives are not judged", () => {
  const samples: Array<[number, number]> = [];
  for (let t = 0; t <= 300_000; t += 3_000) samples.push([t, t < 60_000 ? 100 : t > 240_000 ? 120 : 110]);
  const [long, short] = rssGrowth([
    { service: "decider", pid: 1, samples },
    { service: "health", pid: 2, samples: samples.slice(0, 20) },
  ]);
  assert.equal(long!.growthPct, 20);
  assert.equal(short!.growthPct, undefined);
});

test("given a seed, when faults are planned, then every service, nats-server and both sink faults are in it, in time order, the same each time", () => {
  const a = planFaults(prng(7), ["decider", "supervisor"], 600_000, 3);
  const b = planFaults(prng(7), ["decider", "supervisor"], 600_000, 3);
  assert.deepEqual(a, b);
  const kinds = new Set(a.map((p) => (p.fault.kind === "kill-service" ? p.fault.service : p.fault.kind)));
  assert.deepEqual([...kinds].sort(), ["decider", "kill-nats", "sink-hang", "sink-outage", "supervisor"]);
  assert.equal(a.length, 8);
  assert.ok(a.every((p, i) => i === 0 || p.atMs >= a[i - 1]!.atMs));
  assert.ok(a.every((p) => p.atMs >= 20_000 && p.atMs <= 570_000));
});

test("given error lines, when classified, then those the faults explain are counted by cause and the rest are unexpected", () => {
  const r = classifyErrors([
    { file: "telemetry.log", level: 50, msg: "upload failed", text: '{"msg":"upload failed","err":"ECONNREFUSED"}' },
    { file: "decider.log", level: 50, msg: "boom", text: '{"msg":"cannot read properties of undefined"}' },
  ]);
  assert.equal(r.total, 2);
  assert.equal(r.unexpected.length, 1);
  assert.equal(r.unexpected[0]!.file, "decider.log");
});
