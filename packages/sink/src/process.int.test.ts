import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeEvent } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import { sign } from "./signature.js";
import { SinkProcess } from "./process.js";

const SECRET = "sink-process-secret-0123456789";
const ev = (i: number) => makeEvent("edge-001", "vigil/edge-001/test", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: i });

async function post(url: string, events: unknown[]): Promise<number> {
  const body = Buffer.from(JSON.stringify(events));
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/cloudevents-batch+json", "x-vigil-signature": sign(SECRET, body) } });
  await res.text();
  return res.status;
}

test("given the sink as a process, when it is stopped for an outage and started again on the same port, then what it stored is still there, once, and faults can be injected", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sink-process-"));
  const sink = new SinkProcess({ port: await freePort(), dataDir: join(dir, "data"), logFile: join(dir, "sink.log"), secret: SECRET, faults: true });
  try {
    await sink.start();
    const a = [ev(0), ev(1)];
    assert.equal(await post(sink.url, a), 200);
    await sink.stop();
    await assert.rejects(fetch(sink.url), "the cloud is away while stopped");
    await sink.start();
    assert.equal(await post(sink.url, [a[1]!, ev(2)]), 200);
    const ids = await sink.ids();
    assert.equal(ids.length, 3, "the repeat is stored once");
    assert.deepEqual(ids.slice(0, 2), a.map((e) => e.id), "the events from before the outage are still there, in order");
    await sink.faults({ errorRate: 1, status: 503 });
    assert.equal(await post(sink.url, [ev(3)]), 503);
    await sink.faults(undefined);
    assert.equal((await sink.counts()).stored, 3);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("given a sink that cannot start (its port taken), then start rejects naming its log", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sink-process-"));
  const first = new SinkProcess({ port: await freePort(), dataDir: join(dir, "a"), logFile: join(dir, "a.log"), secret: SECRET });
  const second = new SinkProcess({ port: first.port, dataDir: join(dir, "b"), logFile: join(dir, "b.log"), secret: SECRET });
  try {
    await first.start();
    await assert.rejects(second.start(), (err: Error) => err.message.includes(join(dir, "b.log")));
    assert.ok(readFileSync(join(dir, "b.log"), "utf8").length > 0, "the reason is in its log");
  } finally {
    await second.stop();
    await first.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
