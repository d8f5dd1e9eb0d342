import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, parseConfig } from "@vigil/events";
import { until as untilValue } from "@vigil/events/testing";
import { ProcessDriver, type ExitInfo } from "./process-driver.js";

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
};
/** Every process whose command line is a spare's waiting shell for this marker. */
const sparesFor = (marker: string): number[] => {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => cmdline(p).startsWith("/bin/sh -c") && cmdline(p).includes(marker));
};

/** Polls `ok` until it holds (the kernel gives no event for another process's exec or exit). */
const until = (ok: () => boolean, timeoutMs: number, what: string) => untilValue(what, ok, (v) => v, timeoutMs, 10);

function driverFor(workers: unknown[], dir: string, exits: ExitInfo[]): ProcessDriver {
  const config = parseConfig({ workers }, { env: {} });
  return new ProcessDriver(config.workers, {
    baseDir: dir,
    logDir: join(dir, "logs"),
    log: createLogger("test", "silent"),
    events: { onStarted: () => undefined, onExited: (i) => exits.push(i), onStable: () => undefined, onPidsChanged: () => undefined },
  });
}

describe("process driver: a worker's next process forked ahead (restart.prespawn, real processes)", () => {
  it("given a running worker, when it dies and is started again, then the new process is the spare forked before the crash, running the worker's command with the same environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-spare-"));
    const exits: ExitInfo[] = [];
    const driver = driverFor([{ name: "w", command: "sleep", args: ["3601"], env: { MODE: "spare-test" } }], dir, exits);
    try {
      const first = await driver.start("w");
      await until(() => sparesFor("3601").length === 1, 5_000, "a spare forked after the start");
      const spare = sparesFor("3601")[0]!;
      process.kill(first, "SIGKILL");
      await until(() => exits.length === 1, 5_000, "the exit reported");
      const second = await driver.start("w");
      assert.equal(second, spare, "the restart used the spare's process");
      await until(() => cmdline(second) === "sleep 3601", 2_000, "the spare exec'd the worker");
      const env = readFileSync(`/proc/${second}/environ`, "utf8").split("\0").filter(Boolean);
      assert.ok(env.includes("MODE=spare-test") && env.includes("VIGIL_WORKER=w"), env.join(" "));
      assert.ok(!env.some((e) => e.startsWith("PWD=")), "no PWD the shell added");
      await until(() => sparesFor("3601").length === 1, 5_000, "a new spare for the next restart");
    } finally {
      await driver.stopAll();
      await until(() => sparesFor("3601").length === 0, 5_000, "no spare left after stopAll");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("given prespawn off or a reload that changes the worker, then no spare of the old declaration is used", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-spare-"));
    const exits: ExitInfo[] = [];
    const driver = driverFor([{ name: "w", command: "sleep", args: ["3602"] }, { name: "off", command: "sleep", args: ["3603"], restart: { prespawn: false } }], dir, exits);
    try {
      await driver.start("off");
      const first = await driver.start("w");
      await until(() => sparesFor("3602").length === 1, 5_000, "a spare for w");
      assert.equal(sparesFor("3603").length, 0, "no spare for a worker with prespawn: false");
      driver.declare(parseConfig({ workers: [{ name: "w", command: "sleep", args: ["3604"] }, { name: "off", command: "sleep", args: ["3603"], restart: { prespawn: false } }] }, { env: {} }).workers);
      await until(() => sparesFor("3602").length === 0, 5_000, "the old declaration's spare discarded");
      process.kill(first, "SIGKILL");
      await until(() => exits.length === 1, 5_000, "the exit reported");
      const second = await driver.start("w");
      await until(() => cmdline(second) === "sleep 3604", 2_000, "the new declaration runs");
    } finally {
      await driver.stopAll();
      await until(() => sparesFor("360").length === 0, 5_000, "no spare left after stopAll");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("given a spare, when the supervisor holding it is killed with SIGKILL, then the spare exits by itself (no orphan)", async () => {
    const { spawn } = await import("node:child_process");
    // A child node process stands in for the supervisor: it forks a spare and then dies hard.
    const holder = spawn(process.execPath, ["--input-type=module", "-e", `
      import { forkSpare } from ${JSON.stringify(new URL("./spare.js", import.meta.url).href)};
      const s = forkSpare({ command: "sleep", args: ["3605"] }, "/", { PATH: process.env.PATH });
      console.log(s.child.pid); setInterval(() => {}, 1000);`], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = await new Promise<number>((r) => holder.stdout!.once("data", (b: Buffer) => r(Number(String(b).trim()))));
    try {
      await until(() => cmdline(pid).startsWith("/bin/sh"), 5_000, "the spare running");
      holder.kill("SIGKILL");
      await until(() => cmdline(pid) === "" || !sparesFor("3605").includes(pid), 5_000, "the spare gone after its holder died");
      assert.equal(sparesFor("3605").length, 0);
    } finally {
      holder.kill("SIGKILL");
    }
  });
});
