// A decider's restart is recorded alongside its run, not before it (commands.ts, issue 13's recovery
// path): still at most once, for a redelivery to the same supervisor and for one after a restart.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, createPublisher, is, parseConfig, startService } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { startSupervisor } from "./service.js";

const log = createLogger("test", "silent");

describe("supervisor: a decider's restart runs at most once (real nats-server, real processes)", () => {
  it("a redelivered decider restart is skipped by the same supervisor and by the next one on the same data dir", async () => {
    const srv = await startNatsServer();
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-sup-record-"));
    const config = parseConfig({ device: "t1", dataDir, nats: { url: srv.url }, workers: [{ name: "sensor", command: "sleep", args: ["600"] }] }, { env: {} });
    let svc = await startService("supervisor", config, startSupervisor, log);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    const cmds = await createPublisher(nc, { device: "t1", source: "test", log });
    const restarted = () => events.events.filter((e) => is(e, "out.worker.restarted")).length;
    try {
      await events.waitFor("started", (e) => is(e, "obs.worker.started"));
      const first = await cmds.emit("cmd.worker.restart", { worker: "sensor", requestedBy: "decider" });
      await events.waitFor("restarted", (e) => is(e, "out.worker.restarted"));
      // The same command again with another Nats-Msg-Id (past the duplicate window), then a marker.
      nc.publish(first.event.subject, JSON.stringify(first.event));
      await cmds.emit("cmd.worker.pause", { worker: "sensor" });
      await events.waitFor("paused after the repeat", (e) => is(e, "out.worker.paused"));
      assert.equal(restarted(), 1, "the same supervisor skipped the repeat");

      // A new supervisor on the same data dir: the record was on disk before the command was acked.
      await svc.stop();
      svc = await startService("supervisor", config, startSupervisor, log);
      await events.waitFor("started again", (e) => is(e, "obs.worker.started") && e.time > first.event.time);
      nc.publish(first.event.subject, JSON.stringify(first.event));
      await cmds.emit("cmd.worker.stop", { worker: "sensor" });
      await events.waitFor("stopped after the second repeat", (e) => is(e, "out.worker.stopped"));
      assert.equal(restarted(), 1, "the next supervisor did not run it either");
    } finally {
      await events.close();
      await svc.stop();
      await cmds.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
