import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { connectBus, is, type VigilEvent } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { runVigil, vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";

const sleeper = (name: string) => ({ name, command: "sleep", args: ["600"] });
const startsOf = (events: VigilEvent[], worker: string) => events.filter((e) => is(e, "obs.worker.started") && e.data.worker === worker).length;

describe("vigil reload, vigil stop|start (vigil up as a process, its embedded nats-server)", () => {
  it("vigil stop sensor, then reloads (dry run, bad config, a real one) and a kill -9 of the supervisor: sensor stays stopped until vigil start sensor", { timeout: 180_000 }, async () => {
    const base = { device: "reload-e2e", dataDir: "data", gateway: { port: 0 }, health: { intervalMs: 60_000, anomaly: { enabled: false } } };
    const cfg = writeConfig({ ...base, workers: [sleeper("sensor"), sleeper("other")] });
    const rewrite = (workers: unknown[]) => writeFileSync(cfg, stringify({ ...base, workers }));
    const vigil = await vigilUpEmbedded(cfg, await freePort());
    const nc = await connectBus(vigil.nats, "test");
    const events = await watchEvents(nc);
    const cli = (...args: string[]) => runVigil([...args, "--config", cfg]);
    try {
      await events.waitForCount("boot", (e) => is(e, "obs.worker.started"), 2, 30_000);
      const sup = await events.waitFor("supervisor started", (e) => is(e, "sys.service.started") && e.data.service === "supervisor", 30_000);
      await events.waitFor("gateway started", (e) => is(e, "sys.service.started") && e.data.service === "gateway", 30_000);

      const stop = await cli("stop", "sensor");
      assert.equal(stop.code, 0, stop.stdout + stop.stderr);
      assert.match(stop.stdout, /sensor stopped/);

      const dry = await cli("reload", "--dry-run");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(dry.stdout, /planned: 0 steps.*held: sensor \(stopped by the operator/);

      rewrite([sleeper("sensor"), { name: "broken" }]);
      const bad = await cli("reload");
      assert.equal(bad.code, 2, bad.stdout + bad.stderr);
      assert.match(bad.stderr, /workers\[1\]\.command/);

      rewrite([sleeper("sensor"), sleeper("other"), sleeper("fresh")]);
      const ok = await cli("reload");
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /step 1\/1: start fresh done/);
      assert.match(ok.stdout, /applied: 1 step/);
      await events.waitFor("fresh started", (e) => is(e, "obs.worker.started") && e.data.worker === "fresh");

      // kill -9 of the supervisor: vigil up starts a new one, which reaps the orphans and boots from the config and its data dir.
      process.kill(is(sup, "sys.service.started") ? sup.data.pid : 0, "SIGKILL");
      await events.waitForCount("supervisor restarted", (e) => is(e, "sys.service.started") && e.data.service === "supervisor", 2, 30_000);
      await events.waitForCount("fresh booted again", (e) => is(e, "obs.worker.started") && e.data.worker === "fresh", 2, 30_000);
      await events.waitForCount("other booted again", (e) => is(e, "obs.worker.started") && e.data.worker === "other", 2, 30_000);
      assert.equal(startsOf(events.events, "sensor"), 1, "sensor was started only at the first boot");

      const start = await cli("start", "sensor");
      assert.equal(start.code, 0, start.stdout + start.stderr);
      assert.match(start.stdout, /sensor started: pid \d+/);
      await events.waitFor("sensor started by the operator", (e) => is(e, "out.worker.started") && e.data.worker === "sensor" && e.data.requestedBy !== "decider");
    } finally {
      await events.close();
      await nc.close();
      await vigil.stop();
    }
  });
});
