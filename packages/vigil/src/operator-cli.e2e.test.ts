import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@vigil/events/testing";
import { VIGIL_MAIN, vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";

/** Runs `vigil <args>` in `cwd` (not the config's folder), with no VIGIL_* from the test's environment. */
function vigilIn(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGIL_")));
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [VIGIL_MAIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const HEARTBEAT = /\bsys (\S+|telemetry) alive: /;

describe("what an operator reads from the CLI (vigil up with its embedded, password-protected nats-server)", () => {
  it("events --since 1m hides heartbeats unless --all; status --data-dir works from any folder; wrong credentials name the file, the server and what to pass", async () => {
    const cfg = writeConfig({ device: "cli-1", workers: [{ name: "sensor", command: "sleep", args: ["600"] }], supervisor: { heartbeatMs: 500 } });
    const port = await freePort();
    const vigil = await vigilUpEmbedded(cfg, port);
    const elsewhere = mkdtempSync(join(tmpdir(), "vigil-elsewhere-"));
    try {
      // From a folder with no vigil.yaml and no .vigil: --data-dir alone finds the config, the server and the credentials.
      let all = { code: null as number | null, stdout: "", stderr: "" };
      for (let i = 0; i < 40 && !HEARTBEAT.test(all.stdout); i++) {
        all = await vigilIn(elsewhere, ["events", "--since", "1m", "--all", "--data-dir", vigil.dataDir]);
        assert.equal(all.code, 0, all.stderr);
        if (!HEARTBEAT.test(all.stdout)) await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(all.stdout, HEARTBEAT, "--all shows heartbeats, summarised");
      const plain = await vigilIn(elsewhere, ["events", "--since", "1m", "--data-dir", vigil.dataDir]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /sys service decider started/, plain.stdout);
      assert.match(plain.stdout, /obs sensor started, pid \d+/);
      assert.doesNotMatch(plain.stdout, HEARTBEAT, "no heartbeat by default");
      assert.doesNotMatch(plain.stdout, /heartbeat|health\.sample|\{"/, "no heartbeat, no sample, no raw JSON");

      const status = await vigilIn(elsewhere, ["status", "--data-dir", vigil.dataDir]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^device cli-1 · NATS nats:\/\/127\.0\.0\.1:\d+/m);
      assert.match(status.stdout, /sensor\s+running\s+\d+/);

      // A folder whose .vigil belongs to an earlier run (a runtime file of a vigil up that is gone, its credentials).
      const stale = mkdtempSync(join(tmpdir(), "vigil-stale-"));
      mkdirSync(join(stale, ".vigil", "creds"), { recursive: true });
      writeFileSync(join(stale, ".vigil", "creds", "admin.json"), JSON.stringify({ user: "admin", pass: "from-an-earlier-run" }));
      writeFileSync(join(stale, ".vigil", "runtime.json"), JSON.stringify({ natsUrl: vigil.natsUrl, device: "cli-1", pid: 2 ** 22 + 1, configPath: cfg, startedAt: new Date().toISOString() }));
      const refused = await vigilIn(stale, ["status"]);
      rmSync(stale, { recursive: true, force: true });
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, new RegExp(`NATS at ${vigil.natsUrl.replace(/[./]/g, "\\$&")} refused the credentials in \\S*\\.vigil/creds/admin\\.json \\(Authorization Violation\\)`), refused.stderr);
      assert.match(refused.stderr, /vigil up pid \d+, which is not running/);
      assert.match(refused.stderr, /Pass --data-dir <the running vigil up's data dir> \(or --config <its vigil\.yaml>\)/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
      const stopped = await vigil.stop();
      rmSync(vigil.dir, { recursive: true, force: true });
      assert.equal(stopped, 0, vigil.output());
    }
  });
});
