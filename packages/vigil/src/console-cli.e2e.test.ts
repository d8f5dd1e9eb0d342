import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectBus, gatewayInfoFile, hashToken, is, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { runVigil, vigilUp, writeConfig } from "./e2e-helpers.js";

const OPERATOR = "cli-e2e-operator-token-0123456789";
const VIEWER = "cli-e2e-viewer-token-0123456789";
const pidOf = (e: VigilEvent) => (e.data as { pid: number }).pid;

async function gatewayUrl(dataDir: string, timeoutMs = 15_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const url = JSON.parse(readFileSync(gatewayInfoFile(dataDir), "utf8")).url as string;
      if ((await fetch(`${url}/healthz`)).ok) return url;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`the gateway did not write ${gatewayInfoFile(dataDir)} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("vigil CLI through the gateway (vigil up: real nats-server and services)", () => {
  it("workers, restart with who asked, a viewer refused, incidents, replay and re-decide", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({
      device: "cli-1",
      gateway: {
        port: 0,
        tokens: [
          { name: "olga", role: "operator", sha256: hashToken(OPERATOR) },
          { name: "vera", role: "viewer", sha256: hashToken(VIEWER) },
        ],
      },
      workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 60_000 } }],
    });
    const vigil = await vigilUp(cfg, srv.url);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    try {
      const url = await gatewayUrl(join(vigil.dir, "data"));
      const env = { VIGIL_NATS_URL: srv.url, VIGIL_GATEWAY_URL: url, VIGIL_TOKEN: OPERATOR };
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"));

      // workers: the table and --json, once the decider's state has the start.
      let w: any;
      for (let i = 0; i < 50; i++) {
        const r = await runVigil(["workers", "--json", "--config", cfg], env);
        assert.equal(r.code, 0, r.stderr);
        w = JSON.parse(r.stdout).workers[0];
        if (w.pid === pidOf(started)) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.deepEqual([w.name, w.status, w.pid], ["sensor", "running", pidOf(started)]);
      const table = await runVigil(["workers", "--config", cfg], env);
      assert.match(table.stdout, /^WORKER\s+STATE\s+PID/m);
      assert.match(table.stdout, new RegExp(`sensor\\s+running\\s+${pidOf(started)}`));

      // A viewer cannot; an operator can, and the command records who.
      const refused = await runVigil(["restart", "sensor", "--config", cfg], { ...env, VIGIL_TOKEN: VIEWER });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /vera is a viewer: only operators send commands/);
      const noToken = await runVigil(["workers", "--config", cfg, "--token", "wrong-token-wrong-token"], env);
      assert.equal(noToken.code, 1);
      assert.match(noToken.stderr, /refused the token \(401\)/);
      const restarted = await runVigil(["restart", "sensor", "--config", cfg], env);
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.match(restarted.stdout, new RegExp(`sensor restarted: pid \\d+ \\(was ${pidOf(started)}\\) — by olga`));
      const cmd = await events.waitFor("the restart command", (e) => is(e, "cmd.worker.restart"));
      assert.equal((cmd.data as { requestedBy: string }).requestedBy, "olga");
      const undeclared = await runVigil(["kill", "sshd", "--config", cfg], env);
      assert.equal(undeclared.code, 2);
      assert.match(undeclared.stderr, /not declared/);

      // kill -9 → incident; incidents lists it; replay prints the chain; --decide agrees with the record.
      const out = await events.waitFor("restarted", (e) => is(e, "out.worker.restarted"));
      process.kill(pidOf(out), "SIGKILL");
      const healed = await events.waitFor("healed", (e) => is(e, "out.worker.restarted") && (e.data as { requestedBy: string }).requestedBy === "decider");
      const incident = healed.incident!;
      let listed = "";
      for (let i = 0; i < 50 && !listed.includes(incident.slice(0, 8)); i++) {
        listed = (await runVigil(["incidents", "--config", cfg], env)).stdout;
        if (!listed.includes(incident.slice(0, 8))) await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(listed, new RegExp(`${incident.slice(0, 8)}\\s+sensor\\s+open`));
      const replay = await runVigil(["replay", incident.slice(0, 8), "--decide", "--config", cfg], env);
      assert.equal(replay.code, 0, replay.stderr);
      const lines = replay.stdout.split("\n");
      const order = ["exited: signal SIGKILL", "incident opened", "decided: restart sensor", "command: worker.restart", "worker.restarted: sensor"].map((s) => lines.findIndex((l) => l.includes(s)));
      assert.ok(order.every((p, i) => p >= 0 && (i === 0 || p > order[i - 1]!)), replay.stdout);
      assert.match(replay.stdout, /the current decider makes the same decisions/);
      const json = JSON.parse((await runVigil(["replay", incident, "--decide", "--json", "--config", cfg], env)).stdout);
      assert.ok(json.redecide.length >= 1 && json.redecide.every((d: any) => d.same));
      assert.ok(json.events.every((e: any) => e.incident === incident || e.correlation === incident));

      const hash = await runVigil(["token", "hash", "abc"]);
      assert.equal(hash.stdout.trim(), hashToken("abc"));
    } finally {
      await events.close();
      const stopped = await vigil.stop();
      await nc.close();
      await srv.cleanup();
      assert.equal(stopped, 0, vigil.output());
    }
  });
});
