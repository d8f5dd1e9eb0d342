// The decider's restarts are heard live as well as from the stream (restart-fast-path.ts, issue 13's
// recovery path): run from whichever comes first, once.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { connectBus, createLogger, createPublisher, is, makeEvent, parseConfig, startService, type VigilEvent } from "@vigil/events";
import { startNatsServer, until, watchEvents } from "@vigil/events/testing";
import { startSupervisor } from "./service.js";

const log = createLogger("test", "silent");

describe("supervisor: a decider's restart heard live and from the stream (real nats-server, real processes)", () => {
  it("runs once; the live path alone runs a decider's restart but never an operator's; garbage on the subject changes nothing", async () => {
    const srv = await startNatsServer();
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-sup-live-"));
    const config = parseConfig({ device: "t1", dataDir, nats: { url: srv.url }, workers: [{ name: "sensor", command: "sleep", args: ["600"] }] }, { env: {} });
    const svc = await startService("supervisor", config, startSupervisor, log);
    const nc = await connectBus({ url: srv.url }, "test");
    const jsm = await jetstreamManager(nc);
    const events = await watchEvents(nc);
    const cmds = await createPublisher(nc, { device: "t1", source: "test", log });
    const restartsOf = (id: string) => events.events.filter((e) => is(e, "out.worker.restarted") && e.data.command === id).length;
    // Published where the supervisor hears it live, but refused by the stream (an expectation that
    // fails): what runs then can only have come from the live path.
    const liveOnly = (e: VigilEvent) => {
      const h = headers();
      h.set("Nats-Expected-Last-Sequence", "1");
      nc.publish(e.subject, JSON.stringify(e), { headers: h });
    };
    try {
      await events.waitFor("started", (e) => is(e, "obs.worker.started"));

      // Given a decider restart through the stream: heard twice, run once, acked.
      const both = await cmds.emit("cmd.worker.restart", { worker: "sensor", requestedBy: "decider" });
      await events.waitFor("restarted", (e) => is(e, "out.worker.restarted") && e.data.command === both.event.id);
      await until("the supervisor's consumer acked it", async () => (await jsm.consumers.info(config.stream.name, "supervisor")).num_ack_pending, (n) => n === 0, 10_000);
      const marker = await cmds.emit("cmd.worker.pause", { worker: "sensor" });
      await events.waitFor("paused", (e) => is(e, "out.worker.paused") && e.data.command === marker.event.id);
      assert.equal(restartsOf(both.event.id), 1, "heard live and from the stream, run once");
      await cmds.emit("cmd.worker.resume", { worker: "sensor" });
      await events.waitFor("resumed", (e) => is(e, "out.worker.resumed"));

      // Garbage on the restart subject: the stream refuses it too, nothing runs, the supervisor goes on.
      const h = headers();
      h.set("Nats-Expected-Last-Sequence", "1");
      nc.publish(both.event.subject, "{not json", { headers: h });

      // An operator's restart heard only live: not run (the stream's order alone governs those).
      const operator = makeEvent("t1", "vigil/t1/gateway", "cmd.worker.restart", { worker: "sensor", requestedBy: "operator" });
      liveOnly(operator);
      // A decider's restart heard only live: run.
      const decider = makeEvent("t1", "vigil/t1/decider", "cmd.worker.restart", { worker: "sensor", requestedBy: "decider" });
      liveOnly(decider);
      await events.waitFor("the live-only decider restart ran", (e) => is(e, "out.worker.restarted") && e.data.command === decider.id);
      const after = await cmds.emit("cmd.worker.pause", { worker: "sensor" });
      await events.waitFor("paused again", (e) => is(e, "out.worker.paused") && e.data.command === after.event.id);
      assert.equal(restartsOf(operator.id), 0, "an operator's restart is run from the stream only");
      assert.ok(!events.events.some((e) => e.id === operator.id || e.id === decider.id), "the stream stored neither");
    } finally {
      await events.close();
      await svc.stop();
      await cmds.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
