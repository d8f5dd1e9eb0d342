import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, createLogger, createPublisher, decodeEvent, encodeEvent, eventName, is, makeEvent, parseConfig, startService, type VigilEvent } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { createDecider, DEFAULT_POLICIES, replay, type Policy } from "./core/mod.js";
import { startDecider } from "./service.js";
import { snapshotStore } from "./snapshot.js";

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
      const second = cmds[1]!;
      assert.ok(is(second, "cmd.worker.restart"));
      assert.equal(second.data.delayMs, 50, "backoff state survived the restart");
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

  it("given a steady flood of other events, when a worker is restarted, then its new pid is in the snapshot while the flood goes on", async () => {
    const srv = await startNatsServer();
    // snapshotEvery out of reach: only the save of a change can bring the pid to the snapshot's readers.
    const config = parseConfig({ device: "t2", nats: { url: srv.url }, workers, decider: { snapshotEvery: 1_000_000 } }, { env: {} });
    const nc = await connectBus({ url: srv.url }, "test");
    const pub = await createPublisher(nc, { device: "t2", source: "test-supervisor", log });
    const svc = await startService("decider", config, (ctx) => startDecider(ctx), log);
    const store = await snapshotStore(nc, "t2");
    let flooding = true;
    // Heartbeats of some other service, published faster than the decider reads them: its backlog never empties.
    const flood = (async () => {
      let n = 0;
      while (flooding) {
        for (let i = 0; i < 500; i++) {
          const e = makeEvent("t2", "vigil/t2/noise", "sys.service.heartbeat", { service: "noise", pid: 1, uptimeMs: n++, rssBytes: 1 });
          nc.publish(e.subject, encodeEvent(e));
        }
        await nc.flush();
      }
    })();
    try {
      await pub.emit("obs.worker.started", { worker: "sensor", pid: 200, command: "x" });
      await pub.emit("out.worker.restarted", { worker: "sensor", command: "op-1", requestedBy: "operator", pid: 201, previousPid: 200 });
      const deadline = Date.now() + 20_000;
      let pid: number | undefined;
      while (pid !== 201 && Date.now() < deadline) {
        pid = (await store.load())?.state.workers.sensor?.pid;
        if (pid !== 201) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(pid, 201, "the snapshot shows the new pid");
      const info = await (await jetstreamManager(nc)).consumers.info("VIGIL", "decider");
      assert.ok(info.num_pending > 0, `the flood was still unread when the snapshot was saved (pending ${info.num_pending})`);
    } finally {
      flooding = false;
      await flood;
      await svc.stop();
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("given a policy that throws for one event, when it arrives, then it is retried in place and dead-lettered with the reason before later events are folded, and the decider keeps deciding", async () => {
    const srv = await startNatsServer();
    const twoWorkers = [...workers, { name: "pump", command: "x", restart: workers[0]!.restart }];
    const config = parseConfig({ device: "t3", nats: { url: srv.url }, workers: twoWorkers }, { env: {} });
    const nc = await connectBus({ url: srv.url }, "test");
    const pub = await createPublisher(nc, { device: "t3", source: "test-supervisor", log });
    const boom: Policy = {
      name: "boom",
      decide(_s, e) {
        if (is(e, "obs.worker.exited") && e.data.worker === "sensor") throw new Error("boom: sensor exits break this policy");
        return [];
      },
    };
    const svc = await startService("decider", config, (ctx) => startDecider(ctx, { policies: [...DEFAULT_POLICIES, boom] }), log);
    const events = await watchEvents(nc);
    try {
      const exit = (worker: string, pid: number) => pub.emit("obs.worker.exited", { worker, pid, code: 1, signal: null, expected: false, uptimeMs: 5 });
      await pub.emit("obs.worker.started", { worker: "sensor", pid: 300, command: "x" });
      await pub.emit("obs.worker.started", { worker: "pump", pid: 400, command: "x" });
      // Back to back: the pump's exit is already in the decider's buffer while the sensor's keeps failing.
      const [bad] = await Promise.all([exit("sensor", 300), exit("pump", 400)]);
      const dl = await events.waitFor("dead letter of the sensor's exit", (e) => is(e, "sys.deadletter") && e.data.streamSeq === bad.seq);
      assert.ok(is(dl, "sys.deadletter"));
      const reason = dl.data.reason;
      assert.match(reason, /boom: sensor exits break this policy/);
      const pumpCmd = await events.waitFor("restart of the pump", (e) => is(e, "cmd.worker.restart") && e.data.worker === "pump");
      assert.ok(dl.seq < pumpCmd.seq, "the failing event was settled before the later one was decided (the fold is order-dependent)");
      // And the decider keeps going after it.
      await exit("pump", 401);
      await events.waitForCount("second restart of the pump", (e) => is(e, "cmd.worker.restart") && e.data.worker === "pump", 2);
      assert.equal(events.events.filter((e) => is(e, "sys.deadletter")).length, 1, "exactly one dead letter");
      assert.equal(events.events.filter((e) => is(e, "cmd.worker.restart") && e.data.worker === "sensor").length, 0, "the failed event decided nothing");
      // Every delivery settled (acked, or terminated after its dead letter): nothing waits for a redelivery.
      const jsm = await jetstreamManager(nc);
      const deadline = Date.now() + 10_000;
      let info = await jsm.consumers.info("VIGIL", "decider");
      while ((info.num_ack_pending > 0 || info.num_pending > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        info = await jsm.consumers.info("VIGIL", "decider");
      }
      assert.equal(info.num_ack_pending, 0, "nothing left hanging for a redelivery");
      assert.equal(info.num_redelivered, 0, "the failing event was retried in place, not redelivered");
    } finally {
      await events.close();
      await svc.stop();
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });

  it("given an exit of a worker named __proto__ on the bus, then it is dead-lettered naming the reserved name, and the decider keeps deciding for other workers", async () => {
    const srv = await startNatsServer();
    const config = parseConfig({ device: "t4", nats: { url: srv.url }, workers }, { env: {} });
    const nc = await connectBus({ url: srv.url }, "test");
    const pub = await createPublisher(nc, { device: "t4", source: "test-supervisor", log });
    const svc = await startService("decider", config, (ctx) => startDecider(ctx), log);
    const events = await watchEvents(nc);
    try {
      const exitOf = (worker: string, pid: number) => {
        // Built for a valid name, then renamed: what a buggy or hostile publisher could put on the bus.
        const e = makeEvent("t4", "vigil/t4/supervisor", "obs.worker.exited", { worker: "placeholder", pid, code: 1, signal: null, expected: false, uptimeMs: 5 });
        return { ...e, data: { ...e.data, worker } };
      };
      const js = jetstream(nc);
      await pub.emit("obs.worker.started", { worker: "sensor", pid: 500, command: "x" });
      const proto = exitOf("__proto__", 7);
      const ack = await js.publish(proto.subject, encodeEvent(proto as VigilEvent));
      const ctor = exitOf("constructor", 8);
      await js.publish(ctor.subject, encodeEvent(ctor as VigilEvent));
      await pub.emit("obs.worker.exited", { worker: "sensor", pid: 500, code: 1, signal: null, expected: false, uptimeMs: 5 });
      const dl = await events.waitFor("dead letter of the __proto__ exit", (e) => is(e, "sys.deadletter") && e.data.streamSeq === ack.seq);
      assert.ok(is(dl, "sys.deadletter"));
      assert.match(dl.data.reason, /worker.*__proto__.*reserved/);
      await events.waitFor("dead letter of the constructor exit", (e) => is(e, "sys.deadletter") && e.data.reason.includes('"constructor"'));
      const cmd = await events.waitFor("restart of sensor", (e) => is(e, "cmd.worker.restart"));
      assert.ok(is(cmd, "cmd.worker.restart"));
      assert.equal(cmd.data.worker, "sensor");
      const workerIn = (e: VigilEvent) => ("worker" in e.data && typeof e.data.worker === "string" ? e.data.worker : "");
      assert.equal(events.events.filter((e) => /\.(dec|cmd)\./.test(e.subject) && ["__proto__", "constructor"].includes(workerIn(e))).length, 0);
    } finally {
      await events.close();
      await svc.stop();
      await pub.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
