import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connectBus, createLogger, createPublisher, decodeEvent, eventName, is, parseConfig, startService, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { createDecider, replay } from "./core/mod.js";
import { startDecider } from "./service.js";

const log = createLogger("test", "silent");
const workers = [{ name: "sensor", command: "x", restart: { backoffBaseMs: 50, maxRestarts: 3, windowMs: 60_000, stableMs: 1000 } }];

async function readAll(nc: Parameters<typeof jetstream>[0]): Promise<VigilEvent[]> {
  const js = jetstream(nc);
  const c = await js.consumers.get("VIGIL", { filter_subjects: "vigil.>", deliver_policy: DeliverPolicy.All });
  const out: VigilEvent[] = [];
  const info = await c.info();
  let left = info.num_pending;
  if (left === 0) return out;
  for await (const m of await c.consume()) {
    try {
      out.push(decodeEvent(m.subject, m.data));
    } catch {
      /* dead-lettered payloads are not decider input */
    }
    if (--left === 0) break;
  }
  return out;
}

describe("decider service (real nats-server)", () => {
  it("decides a restart for a crash, resumes from its snapshot after a restart without re-deciding, and a full replay matches the record", async () => {
    const srv = await startNatsServer();
    const config = parseConfig({ device: "t1", nats: { url: srv.url }, workers }, { env: {} });
    const nc = await connectBus({ url: srv.url }, "test");
    const pub = await createPublisher(nc, { device: "t1", source: "test-supervisor", log });
    let svc = await startService("decider", config, (ctx) => startDecider(ctx), log);
    const events = await watchEvents(nc);
    try {
      const exit = (pid: number, incident: string) =>
        pub.emit("obs.worker.exited", { worker: "sensor", pid, code: 1, signal: null, expected: false, uptimeMs: 5 }, { incident });
      await pub.emit("obs.worker.started", { worker: "sensor", pid: 100, command: "x" });
      await exit(100, "inc-1");
      const cmd1 = await events.waitFor("restart command", (e) => is(e, "cmd.worker.restart"));
      assert.equal(cmd1.incident, "inc-1");
      await pub.emit("out.worker.restarted", { worker: "sensor", command: cmd1.id, requestedBy: "decider", pid: 101 }, { incident: "inc-1" });

      // A malformed message on the decider's subjects is dead-lettered; the decider keeps going.
      nc.publish("vigil.t1.obs.worker.exited", "garbage");
      await events.waitFor("dead letter", (e) => is(e, "sys.deadletter"));

      await svc.stop();
      // While it is down, the worker crashes again.
      await exit(101, "inc-1");
      svc = await startService("decider", config, (ctx) => startDecider(ctx), log);
      const cmds = await events.waitForCount("second restart command", (e) => is(e, "cmd.worker.restart"), 2);
      assert.equal((cmds[1]!.data as { delayMs: number }).delayMs, 50, "backoff state survived the restart");
      await pub.emit("out.worker.restarted", { worker: "sensor", command: cmds[1]!.id, requestedBy: "decider", pid: 102 }, { incident: "inc-1" });
      await pub.emit("obs.worker.stable", { worker: "sensor", pid: 102, uptimeMs: 1000 }, { incident: "inc-1" });
      await events.waitFor("incident resolved", (e) => is(e, "dec.incident.resolved"));
      assert.equal(events.events.filter((e) => is(e, "cmd.worker.restart")).length, 2, "no duplicate restart");

      const all = await readAll(nc);
      const recorded = all.filter((e) => /\.(dec|cmd)\./.test(e.subject));
      const replayed = replay(createDecider(config), all).decisions;
      assert.deepEqual(replayed.map((e) => [e.id, eventName(e), e.incident, e.time, e.data]), recorded.map((e) => [e.id, eventName(e), e.incident, e.time, e.data]));
    } finally {
      await events.close();
      await svc.stop();
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
