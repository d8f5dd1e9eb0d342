import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { connectBus, createPublisher, is } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";
import { durableRecordFile } from "./embedded-nats.js";
import { readDurableRecord } from "./store-damage.js";

// Issue 18: after a cut a block of the store can be torn. vigil up must say what was lost (count and
// range), keep the damaged original aside, and start by itself.
test("a torn store block at start: vigil up copies it aside, reports sys.store.damaged with the lost count and range, and runs", { timeout: 180_000 }, async () => {
  const device = "e2e-torn";
  const cfg = writeConfig({ device, workers: [] });
  const port = await freePort();
  const first = await vigilUpEmbedded(cfg, port, {}, 120_000);
  const nc = await connectBus(first.nats, "e2e-torn");
  const pub = await createPublisher(nc, { device, source: `vigil/${device}/e2e` });
  for (let i = 0; i < 300; i++) await pub.emit("obs.demo.reading", { sensor: "torn", seq: i, value: i });
  await pub.close();
  await nc.close();
  assert.equal(await first.stop(), 0);
  const rec = readDurableRecord(durableRecordFile(first.dataDir));
  assert.ok(rec && rec.stream === "VIGIL" && rec.seq >= 300, `vigil up recorded the last durable sequence at its stop: ${JSON.stringify(rec)}`);
  const msgs = join(first.dataDir, "nats", "jetstream", "$G", "streams", "VIGIL", "msgs");
  const last = readdirSync(msgs).filter((f) => f.endsWith(".blk")).sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).at(-1)!;
  const size = statSync(join(msgs, last)).size;
  truncateSync(join(msgs, last), Math.floor(size / 2)); // torn in the middle of a record, most likely

  const second = await vigilUpEmbedded(cfg, port, {}, 120_000);
  const nc2 = await connectBus(second.nats, "e2e-torn");
  const events = await watchEvents(nc2, { filter: `vigil.${device}.>` });
  try {
    const d = await events.waitFor("sys.store.damaged", (e) => is(e, "sys.store.damaged"), 30_000);
    assert.ok(is(d, "sys.store.damaged"));
    assert.equal(d.data.stream, "VIGIL");
    assert.ok(d.data.file.endsWith(join("VIGIL", "msgs", last)));
    assert.ok(d.data.lostCount > 0, "messages a barrier had announced durable are reported lost");
    assert.equal(d.data.toSeq, rec.seq);
    assert.equal(d.data.fromSeq, rec.seq - d.data.lostCount + 1);
    assert.ok(existsSync(d.data.movedTo) && readFileSync(d.data.movedTo).length === Math.floor(size / 2), "the torn original is kept aside");
    assert.match(second.output(), /store: .* was torn .* message\(s\) lost, #\d+–\d+/);
  } finally {
    await events.close();
    await nc2.close();
    assert.equal(await second.stop(), 0);
  }
});
