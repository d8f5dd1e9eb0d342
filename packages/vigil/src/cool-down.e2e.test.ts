import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectBus, is } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { runVigil, vigilUp, writeConfig } from "./e2e-helpers.js";

// Escalations that recover (issue 14): vigil up as a process, a real nats-server, a worker that fails
// until a file appears. Fails on the old code: after the escalation nothing restarts it again.
describe("crash loop with restart.coolDownMs (vigil up)", () => {
  it("given a worker that fails until a file appears, then it is escalated (shown open by vigil status), and healed by the cool-down retry once the file exists, incident resolved", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({
      device: "cool",
      workers: [
        {
          name: "needsfile",
          command: "sh",
          // The dependency: a file the test creates later.
          args: ["-c", 'test -f "$DEP_FILE" || exit 3; exec sleep 600'],
          env: { DEP_FILE: "placeholder" },
          restart: { backoffBaseMs: 50, backoffCapMs: 100, maxRestarts: 2, windowMs: 60_000, stableMs: 1000, coolDownMs: 2500 },
        },
      ],
    });
    // The file lives next to the config; its path is only known now.
    const dep = join(cfg, "..", "dependency-ready");
    writeFileSync(cfg, (await import("node:fs")).readFileSync(cfg, "utf8").replace("placeholder", dep));
    const nc = await connectBus({ url: srv.url }, "test");
    const vigil = await vigilUp(cfg, srv.url);
    const events = await watchEvents(nc);
    try {
      const escalated = await events.waitFor("crash-loop escalation", (e) => is(e, "dec.incident.escalated"), 30_000);
      const retry = await events.waitFor("cool-down retry command", (e) => is(e, "cmd.worker.restart") && e.data.delayMs === 2500, 10_000);
      assert.equal(retry.incident, escalated.incident, "the retry runs in the escalated incident");
      // Meanwhile the incident is open for `vigil status`.
      let shown = false;
      for (let i = 0; i < 50 && !shown; i++) {
        const st = await runVigil(["status", "--json", "--config", cfg], { VIGIL_NATS_URL: srv.url });
        const incidents = (JSON.parse(st.stdout || "{}").incidents ?? []) as Array<{ id: string; status: string; closedAt?: string }>;
        shown = incidents.some((x) => x.id === escalated.incident && x.status === "escalated" && !x.closedAt);
        if (!shown) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(shown, "vigil status lists the escalated incident as open");
      const text = await runVigil(["status", "--config", cfg], { VIGIL_NATS_URL: srv.url });
      assert.doesNotMatch(text.stdout, /no open incidents/);
      assert.match(text.stdout, new RegExp(`${escalated.incident!.slice(0, 8)}\\s+needsfile\\s+escalated`), text.stdout);
      // The dependency comes back: the next cool-down retry starts a run that stays up.
      writeFileSync(dep, "ok");
      const resolved = await events.waitFor("incident resolved", (e) => is(e, "dec.incident.resolved") && e.incident === escalated.incident, 30_000);
      assert.ok(is(resolved, "dec.incident.resolved"));
      assert.equal(resolved.data.worker, "needsfile");
    } finally {
      await events.close();
      await vigil.stop();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("given an escalated incident (coolDownMs 0), when an operator runs vigil ack, then the decider closes it as acknowledged and vigil status no longer lists it", async () => {
    const srv = await startNatsServer();
    const cfg = writeConfig({
      device: "ack",
      workers: [{ name: "broken", command: "sh", args: ["-c", "exit 3"], restart: { backoffBaseMs: 50, backoffCapMs: 100, maxRestarts: 2, windowMs: 60_000, coolDownMs: 0 } }],
    });
    const nc = await connectBus({ url: srv.url }, "test");
    const vigil = await vigilUp(cfg, srv.url);
    const events = await watchEvents(nc);
    try {
      const escalated = await events.waitFor("crash-loop escalation", (e) => is(e, "dec.incident.escalated"), 30_000);
      const incident = escalated.incident!;
      // The gateway answers from the decider's snapshot: retry until it has seen the escalation.
      let ack = await runVigil(["ack", incident, "--reason", "known issue", "--config", cfg], { VIGIL_NATS_URL: srv.url });
      for (let i = 0; i < 50 && ack.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        ack = await runVigil(["ack", incident, "--reason", "known issue", "--config", cfg], { VIGIL_NATS_URL: srv.url });
      }
      assert.equal(ack.code, 0, ack.stderr);
      const acked = await events.waitFor("acknowledged", (e) => is(e, "dec.incident.acknowledged") && e.incident === incident, 15_000);
      assert.ok(is(acked, "dec.incident.acknowledged"));
      assert.match(acked.data.reason, /known issue/);
      const again = await runVigil(["ack", incident, "--config", cfg], { VIGIL_NATS_URL: srv.url });
      for (let i = 0; i < 50; i++) {
        const st = JSON.parse((await runVigil(["status", "--json", "--config", cfg], { VIGIL_NATS_URL: srv.url })).stdout || "{}");
        if ((st.incidents ?? []).some((x: { id: string; closedAt?: string }) => x.id === incident && x.closedAt)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const text = await runVigil(["status", "--config", cfg], { VIGIL_NATS_URL: srv.url });
      assert.doesNotMatch(text.stdout, new RegExp(incident.slice(0, 8) + "[^\\n]*escalated"), text.stdout);
      assert.ok(again.code !== 0 || /acknowledged/.test(again.stdout), "a second ack is refused once closed, or accepted before the gateway saw the close");
    } finally {
      await events.close();
      await vigil.stop();
      await nc.close();
      await srv.cleanup();
    }
  });
});
