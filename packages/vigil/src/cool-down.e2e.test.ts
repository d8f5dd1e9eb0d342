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
});
