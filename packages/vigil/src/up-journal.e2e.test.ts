import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { startNatsServer } from "@vigil/events/testing";
import { VIGIL_MAIN, writeConfig } from "./e2e-helpers.js";

/** Waits (polling the file, where the only writer is another process) until `pred` holds for its lines. */
async function linesUntil(file: string, what: string, pred: (lines: string[]) => boolean, timeoutMs: number): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    if (pred(lines)) return lines;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${lines.join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it("under journald (JOURNAL_STREAM names its stdout), vigil up's own lines, its event feed and the services' lines at logs.journalLevel are JSON lines a jq can read", { timeout: 90_000 }, async () => {
  const srv = await startNatsServer();
  const cfg = writeConfig({ device: "journal-1", health: { intervalMs: 60_000, anomaly: { enabled: false } }, workers: [{ name: "sensor", command: "sleep", args: ["600"] }], logs: { journalLevel: "info" } });
  // stdout is a file standing in for the journal's stream: systemd sets JOURNAL_STREAM to its dev:inode.
  const journal = join(dirname(cfg), "journal");
  const fd = openSync(journal, "w");
  const s = fstatSync(fd);
  const child = spawn(process.execPath, [VIGIL_MAIN, "up", "--config", cfg], {
    env: { ...process.env, VIGIL_NATS_URL: srv.url, VIGIL_LOG_LEVEL: "info", VIGIL_SINK: "off", JOURNAL_STREAM: `${s.dev}:${s.ino}` },
    stdio: ["ignore", fd, "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  try {
    const lines = await linesUntil(journal, "vigil up running and the sensor's start in the feed", (ls) => ls.some((l) => l.includes("running. Watch")) && ls.some((l) => l.includes("obs.worker.started")) && ls.some((l) => l.includes('"service":"decider"')), 60_000);
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as { level: number; time: number; service: string; msg: string; event?: { type: string; seq?: number } };
      } catch {
        assert.fail(`not a JSON line: ${l}`);
      }
    });
    // The services' own pino lines reach the journal too (journal-tee.ts), each naming its service.
    assert.ok(parsed.some((p) => p.service === "decider" && p.level >= 30), "a decider line in the journal");
    for (const p of parsed.filter((x) => x.service === "vigil")) {
      assert.ok(p.level === 30 || p.level === 40, `a pino level: ${p.level}`);
      assert.ok(Math.abs(Date.now() - p.time) < 120_000, "time: epoch ms");
      assert.equal(typeof p.msg, "string");
    }
    assert.ok(parsed.some((p) => p.msg.startsWith("running. Watch")), "the running line, without the text prefix");
    const started = parsed.find((p) => p.event?.type === "io.vigil.obs.worker.started");
    assert.ok(started && typeof started.event!.seq === "number" && /sensor/.test(started.msg), JSON.stringify(started));
  } finally {
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : (child.once("exit", (c) => r(c)), child.kill("SIGTERM"))));
    closeSync(fd);
    assert.equal(code, 0, `${readFileSync(journal, "utf8")}\n${stderr}`);
    await srv.cleanup();
    rmSync(dirname(cfg), { recursive: true, force: true });
  }
});
