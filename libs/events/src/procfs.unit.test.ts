import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parsePidStat, readPidStat } from "./procfs.js";

const line = (comm: string, state = "S") => `4242 (${comm}) ${state} 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000 200 18446744073709551615 1 1 0 0 0\n`;

describe("/proc/<pid>/stat", () => {
  it("reads every field Vigil uses", () => {
    assert.deepEqual(parsePidStat(line("node")), { pid: 4242, comm: "node", state: "S", ppid: 17, pgrp: 4242, utime: 250, stime: 50, cpuTicks: 300, starttime: 12345, rssPages: 200 });
  });

  it("finds the fields after the last ')' whatever the command name holds", () => {
    for (const comm of ["my (odd) name", "a) b (c", ") R 1 2 3", "((", "))", "x y z", ""]) {
      const s = parsePidStat(line(comm, "T"));
      assert.ok(s, comm);
      assert.equal(s.comm, comm);
      assert.equal(s.state, "T", comm);
      assert.equal(s.ppid, 17, comm);
      assert.equal(s.starttime, 12345, comm);
    }
  });

  it("refuses what is not a stat line", () => {
    for (const text of ["", "garbage", "12 (x", "x) 1 2", "abc (node) S 1 2 3 4 5 6 7 8 9 10 11 12 13"]) assert.equal(parsePidStat(text), undefined, text);
  });

  it("reads this process from the real /proc, and nothing for a pid that does not exist", () => {
    const s = readPidStat(process.pid)!;
    assert.equal(s.pid, process.pid);
    assert.equal(s.ppid, process.ppid);
    assert.equal(s.state, "R");
    assert.ok(s.starttime > 0 && s.rssPages > 0);
    assert.equal(readPidStat(2 ** 22 + 1), undefined);
  });
});
