import { test } from "node:test";
import assert from "node:assert/strict";
import { connectBus, is } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { vigilUp, writeConfig } from "./e2e-helpers.js";

test("vigil up runs the local cloud sink and telemetry forwards the device's events to it", async () => {
  const srv = await startNatsServer();
  const device = "e2e-tel";
  const cfg = writeConfig({ device, workers: [{ name: "sensor", command: "sleep", args: ["600"] }], telemetry: { heartbeatSeconds: 0.5 } });
  const vigil = await vigilUp(cfg, srv.url);
  const nc = await connectBus({ url: srv.url }, "e2e");
  const events = await watchEvents(nc, { filter: `vigil.${device}.>` });
  try {
    const m = /local cloud sink at (http:\/\/127\.0\.0\.1:\d+)\/v1\/events/.exec(vigil.output());
    assert.ok(m, `vigil up names the sink:\n${vigil.output()}`);
    const started = await events.waitFor("the worker started", (e) => is(e, "obs.worker.started"), 15_000);
    // A heartbeat after the start event, with nothing left to send: the start event reached the sink.
    await events.waitFor("telemetry caught up", (e) => is(e, "sys.telemetry.heartbeat") && e.seq > started.seq + 1 && e.data.backlog === 0 && e.data.forwarded > 0, 15_000);
    const counts = (await (await fetch(`${m[1]}/counts`)).json()) as { stored: number; unauthorized: number };
    assert.ok(counts.stored > 0);
    assert.equal(counts.unauthorized, 0, "telemetry signs with the secret vigil up gave the sink");
    const page = (await (await fetch(`${m[1]}/events?limit=1000`)).json()) as { events: Array<{ event: { id: string } }> };
    assert.ok(page.events.some((s) => s.event.id === started.id), "the worker's start event is stored at the sink");
  } finally {
    await events.close();
    await nc.close();
    const stopped = await vigil.stop();
    await srv.cleanup();
    assert.equal(stopped, 0);
  }
});
