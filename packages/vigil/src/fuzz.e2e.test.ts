import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUS_SERVICES } from "@vigil/events";

// The fuzzing harness lives in the bench package (bench/src/fuzz-*.ts, docs/fuzzing.md); this is its
// smoke run in CI: 500 inputs per surface against the real `vigil up`, with every check of the full run.
const FUZZ = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bench", "dist", "fuzz.bench.js");

interface FuzzReport {
  seed: number;
  crashes: number;
  checks: Record<string, boolean>;
  bus: { inputs: number; invalid: number; dead_lettered: number; rejected: number; unaccounted: number; gateway_invalid_counted: number; consumers: Record<string, { invalid: number; deadLettered: number; toReject: number; rejected: number; problems: string[] }> };
  websocket: { inputs: number; violations: number; violation_examples: string[]; errors: Record<string, number>; closes: Record<string, number> };
  http: { inputs: number; violations: number; violation_examples: string[]; server_errors: number; status_counts: Record<string, number> };
  live_client: { published: number; missing: number };
  services: { starts: Record<string, number>; healing: { restarted: boolean } };
  config: { inputs: number; rejected: number; accepted_valid: number; loader_crashes: number; crash_examples: string[]; vigil_up: { runs: number; exit2: number; started_valid: number; violations: number; violation_examples: string[] } };
}

describe("fuzzing the running system (smoke)", () => {
  it("survives malformed bus payloads, WebSocket frames, HTTP requests and config files, answering each", { timeout: 240_000 }, async () => {
    assert.ok(existsSync(FUZZ), `${FUZZ} is missing: build the bench package first (npx turbo run build)`);
    const out = mkdtempSync(join(tmpdir(), "vigil-fuzz-smoke-"));
    try {
      const args = [FUZZ, "--per-surface", "500", "--configs", "200", "--up-sample", "10", "--up-valid", "1", "--out", out];
      const child = spawn(process.execPath, args, { env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      child.stdout.on("data", (d) => (log += d));
      child.stderr.on("data", (d) => (log += d));
      const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
      assert.ok(existsSync(join(out, "fuzz.json")), `no report written (exit ${code}):\n${log}`);
      const r = JSON.parse(readFileSync(join(out, "fuzz.json"), "utf8")) as FuzzReport;
      const ctx = `seed ${r.seed} (repeat: node bench/dist/fuzz.bench.js --seed ${r.seed} --per-surface 500)\n${log}`;

      assert.equal(r.crashes, 0, ctx);
      // Bus: every invalid item dead-lettered exactly once per consumer that received it, every command for an undeclared worker rejected once.
      assert.equal(r.bus.inputs, 500);
      assert.equal(r.bus.unaccounted, 0, `${JSON.stringify(r.bus.consumers, null, 1)}\n${ctx}`);
      for (const [name, c] of Object.entries(r.bus.consumers)) {
        assert.equal(c.deadLettered, c.invalid, `${name}: ${c.problems.join("; ")}`);
        assert.equal(c.rejected, c.toReject, `${name}: ${c.problems.join("; ")}`);
      }
      assert.ok(r.bus.invalid > 400 && r.bus.rejected > 0, `a mix of invalid items and undeclared commands: ${r.bus.invalid} / ${r.bus.rejected}`);
      assert.equal(r.bus.gateway_invalid_counted, r.bus.invalid, "the gateway's vigil_invalid_events_total counts them all");
      // No service died or was restarted by vigil up, and the system still heals.
      assert.deepEqual(Object.keys(r.services.starts).sort(), [...BUS_SERVICES].sort(), "every service vigil up runs is watched");
      assert.ok(Object.values(r.services.starts).every((n) => n === 1), JSON.stringify(r.services.starts));
      assert.ok(r.services.healing.restarted, JSON.stringify(r.services.healing));
      // Gateway: documented errors and closes only; 4xx with a JSON error, never a 5xx; the well-behaved client misses nothing.
      assert.equal(r.websocket.inputs, 500);
      assert.equal(r.websocket.violations, 0, r.websocket.violation_examples.join("\n"));
      assert.ok((r.websocket.errors.bad_request ?? 0) > 0 && (r.websocket.closes["1002"] ?? 0) > 0);
      assert.equal(r.http.inputs, 500);
      assert.equal(r.http.violations, 0, r.http.violation_examples.join("\n"));
      assert.equal(r.http.server_errors, 0);
      assert.ok(r.live_client.published > 0);
      assert.equal(r.live_client.missing, 0);
      // Config: only ConfigErrors in-process; vigil up exits 2 with a message (no stack trace) on bad ones and starts on a valid one.
      assert.equal(r.config.inputs, 200);
      assert.equal(r.config.loader_crashes, 0, r.config.crash_examples.join("\n"));
      assert.ok(r.config.rejected > 100 && r.config.accepted_valid > 0);
      assert.equal(r.config.vigil_up.violations, 0, r.config.vigil_up.violation_examples.join("\n"));
      // Every run either exited 2 or (valid, or repaired by a VIGIL_* override) started and stopped cleanly;
      // how many of the 10 sampled bad files an override repairs depends on the seed.
      const up = r.config.vigil_up;
      assert.equal(up.exit2 + up.started_valid, up.runs, `vigil up runs: ${up.runs}, exit 2: ${up.exit2}, started: ${up.started_valid}`);
      assert.ok(up.exit2 >= 5, `vigil up runs with exit 2: ${up.exit2}`);
      for (const [k, v] of Object.entries(r.checks)) assert.ok(v, `${k}\n${ctx}`);
      assert.equal(code, 0, ctx);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
