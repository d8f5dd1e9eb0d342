import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, parseConfig } from "@vigil/events";
import { ProcessDriver, type ExitInfo } from "./process-driver.js";

describe("process driver: a worker's environment (real child process)", () => {
  it("a worker sees the variables its inheritEnv lists, not the supervisor's bus credentials", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-wenv-"));
    const script = `require("fs").writeFileSync("env.json", JSON.stringify(process.env))`;
    const config = parseConfig({ workers: [{ name: "dumper", command: process.execPath, args: ["-e", script], inheritEnv: ["SENSOR_PORT"], env: { MODE: "test" } }] }, { env: {} });
    // The supervisor's own environment, as vigil up gives it: a bus user, and a variable meant for the worker.
    process.env.SENSOR_PORT = "/dev/ttyUSB0";
    process.env.VIGIL_NATS_USER = "supervisor";
    process.env.VIGIL_NATS_PASS = "supervisor-password";
    process.env.UNLISTED = "stays-home";
    let exited!: (info: ExitInfo) => void;
    const exit = new Promise<ExitInfo>((r) => (exited = r));
    const driver = new ProcessDriver(config.workers, {
      baseDir: dir,
      logDir: join(dir, "logs"),
      log: createLogger("test", "silent"),
      events: { onStarted: () => undefined, onExited: (i) => exited(i), onStable: () => undefined, onPidsChanged: () => undefined },
    });
    try {
      await driver.start("dumper");
      const info = await exit;
      assert.equal(info.code, 0, `the worker failed: ${(info.lastLines ?? []).join("\n")}`);
      const env = JSON.parse(readFileSync(join(dir, "env.json"), "utf8")) as Record<string, string>;
      assert.equal(env.SENSOR_PORT, "/dev/ttyUSB0");
      assert.equal(env.MODE, "test");
      assert.equal(env.VIGIL_WORKER, "dumper");
      assert.equal(env.PATH, process.env.PATH);
      for (const k of ["VIGIL_NATS_USER", "VIGIL_NATS_PASS", "UNLISTED"]) assert.equal(env[k], undefined, `${k} reached the worker`);
    } finally {
      for (const k of ["SENSOR_PORT", "VIGIL_NATS_USER", "VIGIL_NATS_PASS", "UNLISTED"]) delete process.env[k];
      await driver.stopAll();
    }
  });
});
