import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpuPercent, parseMeminfo, parseProcessStat, parseProcStat, readProcessStat } from "./procfs.js";

describe("/proc parsing", () => {
  it("reads a process's stat even when its name has spaces and parentheses", () => {
    const line = "4242 (my (odd) name) R 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000 200 18446744073709551615";
    assert.deepEqual(parseProcessStat(line), { pid: 4242, comm: "my (odd) name", state: "R", pgrp: 4242, cpuTicks: 300, starttime: 12345 });
    assert.equal(parseProcessStat("garbage"), undefined);
  });

  it("reads this process from the real /proc", () => {
    const s = readProcessStat(process.pid)!;
    assert.equal(s.pid, process.pid);
    assert.equal(s.comm, "node");
    assert.equal(readProcessStat(2 ** 22 + 1), undefined, "a pid that does not exist is simply absent");
  });

  it("computes device CPU % from two /proc/stat readings (idle and iowait are not busy)", () => {
    const a = parseProcStat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 ...\n");
    const b = parseProcStat("cpu  200 0 200 1200 200 0 0 0 0 0\ncpu0 ...\n");
    assert.equal(cpuPercent(a, b), 25);
  });

  it("computes memory in use from MemTotal and MemAvailable", () => {
    const m = parseMeminfo("MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n")!;
    assert.equal(m.usedPct, 75);
  });
});
