// Issue 18: under vigil up's barrier (VIGIL_DURABILITY=barrier) every service's context publisher —
// its lifecycle events, the decider's decisions, dead letters — holds what it published in an
// outbox until a barrier covers it, so a cut before the barrier loses nothing it saw acknowledged.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { loadConfig } from "./config.js";
import { connectBus } from "./connect.js";
import { createLogger } from "./logger.js";
import { createPublisher, durabilitySubjects } from "./publisher.js";
import { contextOutboxDir, startService } from "./runtime.js";
import { startNatsServer } from "./testing/nats-server.js";
import { until } from "./testing/until.js";

const log = createLogger("test", "silent");

describe("the service context's publisher under the durability barrier (real nats-server)", () => {
  it("holds lifecycle events and decisions in an outbox until a barrier covers them; what no barrier covered is re-published at the next start, once", async () => {
    const srv = await startNatsServer();
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-context-outbox-"));
    const file = join(dataDir, "vigil.yaml");
    writeFileSync(file, JSON.stringify({ device: "d1", dataDir, nats: { url: srv.url } }));
    const config = loadConfig(file, {});
    const before = process.env.VIGIL_DURABILITY;
    process.env.VIGIL_DURABILITY = "barrier";
    const nc = await connectBus({ url: srv.url }, "test");
    let reopened: Awaited<ReturnType<typeof createPublisher>> | undefined;
    let svc: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      assert.equal(contextOutboxDir("decider", config, {}), undefined, "no barrier, no outbox (compose, plain servers)");
      svc = await startService("decider", config, async () => async () => undefined, log);
      const pub = svc.ctx.publisher;
      const decision = await pub.emit("obs.demo.reading", { sensor: "decision-stand-in", seq: 1, value: 1 });
      assert.ok(decision.seq! > 0);
      assert.equal(pub.held(), 2, "sys.service.started and the decision are held until a barrier covers them");
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const info = await jsm.streams.info(config.stream.name);
      // A barrier covering the start event only.
      nc.publish(durabilitySubjects("d1").announce, JSON.stringify({ stream: config.stream.name, seq: decision.seq! - 1, created: info.created }));
      await until("the barrier to release the start event", () => pub.held(), (n) => n === 1);
      // The stop's own barrier request finds no barrier: as after a cut, the decision and sys.service.stopped stay in the outbox.
      await svc.stop("test");
      const dir = contextOutboxDir("decider", config)!;
      assert.ok(existsSync(dir), `the outbox is ${dir}`);

      reopened = await createPublisher(nc, { device: "d1", source: "vigil/d1/decider", outboxDir: dir, log, holdUntilDurable: false });
      assert.equal(reopened.pending(), 2, "the decision and the stop event, which no barrier covered, are re-published at the next start");
      await reopened.flush();
      assert.equal(reopened.pending(), 0);
      assert.equal((await jsm.streams.info(config.stream.name)).state.messages, 3, "started, decision, stopped: each once (the duplicate window dropped the re-published decision)");
    } finally {
      await svc?.stop("test"); // stop() runs once: a second call returns the first's promise
      if (before === undefined) delete process.env.VIGIL_DURABILITY;
      else process.env.VIGIL_DURABILITY = before;
      await reopened?.close();
      await nc.close();
      await srv.cleanup();
    }
  });
});
