import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { feedLine, levelOf, upLine, upOutputFormat } from "./up-output.js";

describe("vigil up's own output: text in a terminal or pipe, JSON lines under journald", () => {
  it("JSON only when JOURNAL_STREAM names this very stream (dev:inode); VIGIL_UP_OUTPUT overrides", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-up-output-"));
    const fd = openSync(join(dir, "journal"), "w");
    const other = openSync(join(dir, "other"), "w");
    try {
      const s = fstatSync(fd);
      const journal = `${s.dev}:${s.ino}`;
      assert.equal(upOutputFormat({ JOURNAL_STREAM: journal }, fd), "json");
      assert.equal(upOutputFormat({ JOURNAL_STREAM: journal }, other), "text", "stdout is not the journal's stream (a pipe under journald, say)");
      assert.equal(upOutputFormat({}, fd), "text");
      assert.equal(upOutputFormat({ JOURNAL_STREAM: "garbage" }, fd), "text");
      assert.equal(upOutputFormat({ JOURNAL_STREAM: journal, VIGIL_UP_OUTPUT: "text" }, fd), "text");
      assert.equal(upOutputFormat({ VIGIL_UP_OUTPUT: "json" }, other), "json");
    } finally {
      closeSync(fd);
      closeSync(other);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("a message is `vigil: …` as text, and one JSON object per line with a pino level as JSON", () => {
    assert.equal(upLine("text", "running."), "vigil: running.\n");
    const line = upLine("json", "service decider died (code 1); restarting it in 250 ms\nsecond line", 1_700_000_000_000);
    assert.equal(line.split("\n").length, 2, "one line, a newline at its end only");
    assert.deepEqual(JSON.parse(line), { level: 40, time: 1_700_000_000_000, service: "vigil", msg: "service decider died (code 1); restarting it in 250 ms\nsecond line" });
    assert.equal(JSON.parse(upLine("json", "running. Status: vigil status")).level, 30);
    for (const warn of ["cannot write /x (ENOSPC)", "reload: invalid configuration, nothing changed", "second SIGINT: killing everything now", "gateway did not stop in 15 s; killing it"]) assert.equal(levelOf(warn), "warn", warn);
  });
  it("a feed line keeps its readable text and carries the event's type, seq and incident under JSON", () => {
    const e = { type: "io.vigil.obs.worker.exited", seq: 42, incident: "inc-1" };
    assert.equal(feedLine("text", "#42 10:00:00.000 obs sensor exited", e), "#42 10:00:00.000 obs sensor exited\n");
    assert.deepEqual(JSON.parse(feedLine("json", "#42 10:00:00.000 obs sensor exited", e, 5)), { level: 30, time: 5, service: "vigil", msg: "#42 10:00:00.000 obs sensor exited", event: e });
  });
});
