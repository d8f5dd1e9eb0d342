import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { makeEvent } from "@vigil/events";
import { sign } from "./signature.js";
import { startSink } from "./server.js";

const SECRET = "sink-test-secret-0123456789";
const CT = "application/cloudevents-batch+json";
const ev = (i: number) => makeEvent("edge-001", "vigil/edge-001/test", "obs.worker.stable", { worker: "w", pid: 1, uptimeMs: i });

async function post(url: string, events: unknown, o: { secret?: string; gzip?: boolean; type?: string } = {}) {
  const raw = Buffer.from(JSON.stringify(events));
  const body = o.gzip === false ? raw : gzipSync(raw);
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": o.type ?? CT, ...(o.gzip === false ? {} : { "content-encoding": "gzip" }), "x-vigil-signature": sign(o.secret ?? SECRET, body) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("the sink stores each event id once, durably, and counts repeats", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sink-"));
  let sink = await startSink({ dataDir: dir, secret: SECRET });
  try {
    const a = [ev(0), ev(1), ev(2)];
    assert.deepEqual((await post(sink.url, a)).body, { received: 3, stored: 3, duplicates: 0 });
    const e3 = ev(3);
    assert.deepEqual((await post(sink.url, [a[2], e3, e3], { gzip: false })).body, { received: 3, stored: 1, duplicates: 2 }, "repeats across and inside batches");
    await sink.close();
    sink = await startSink({ dataDir: dir, secret: SECRET });
    const again = await post(sink.url, a);
    assert.deepEqual(again.body, { received: 3, stored: 0, duplicates: 3 }, "a restarted sink still knows every id");
    const counts = (await (await fetch(sink.url.replace("/v1/events", "/counts"))).json()) as Record<string, number>;
    assert.equal(counts.stored, 4);
    assert.equal(counts.duplicates, 5);
    const page = (await (await fetch(sink.url.replace("/v1/events", "/events?after=1"))).json()) as { events: Array<{ index: number; event: { data: { uptimeMs: number } } }> };
    assert.deepEqual(page.events.map((e) => e.event.data.uptimeMs), [2, 3]);
  } finally {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a wrong signature is 401 with a JSON reason; bad bodies are refused naming the problem; nothing is stored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sink-"));
  const sink = await startSink({ dataDir: dir, secret: SECRET });
  try {
    const wrong = await post(sink.url, [ev(0)], { secret: "another-secret-entirely" });
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.body.error), /signature does not match/);
    const missing = await fetch(sink.url, { method: "POST", body: "[]", headers: { "content-type": CT } });
    assert.equal(missing.status, 401);
    assert.match(String(((await missing.json()) as { error: string }).error), /missing x-vigil-signature/);
    assert.equal((await post(sink.url, [ev(0)], { type: "application/json" })).status, 415);
    const invalid = await post(sink.url, [ev(0), { ...ev(1), data: { worker: 5 } }]);
    assert.equal(invalid.status, 422);
    assert.match(String(invalid.body.error), /index 1/);
    assert.equal(sink.counts().stored, 0, "an invalid batch stores nothing");
    assert.equal(sink.counts().unauthorized, 2);
  } finally {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("faults on demand over HTTP: 503 with Retry-After, then off; refused when not allowed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sink-"));
  const sink = await startSink({ dataDir: dir, secret: SECRET, allowFaults: true });
  const locked = await startSink({ dataDir: join(dir, "locked"), secret: SECRET });
  try {
    const faults = sink.url.replace("/v1/events", "/faults");
    const set = await fetch(faults, { method: "POST", body: JSON.stringify({ errorRate: 1, status: 503, retryAfterS: 7 }) });
    assert.equal(set.status, 200);
    const res = await fetch(sink.url, { method: "POST", body: "[]", headers: { "content-type": CT, "x-vigil-signature": sign(SECRET, Buffer.from("[]")) } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "7");
    assert.equal((await fetch(faults, { method: "POST", body: JSON.stringify({ errorRate: "lots" }) })).status, 400);
    assert.equal((await fetch(faults, { method: "DELETE" })).status, 200);
    assert.equal((await post(sink.url, [ev(9)])).status, 200);
    assert.equal((await fetch(locked.url.replace("/v1/events", "/faults"), { method: "POST", body: "{}" })).status, 403);
  } finally {
    await sink.close();
    await locked.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vigil-sink runs as a command: --help, refuses a missing secret, serves with flags and stops on SIGTERM", async () => {
  const main = join(dirname(fileURLToPath(import.meta.url)), "main.js");
  const dir = mkdtempSync(join(tmpdir(), "vigil-sink-"));
  try {
    const help = spawn(process.execPath, [main, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    help.stdout.on("data", (d) => (out += d));
    assert.equal((await once(help, "exit"))[0], 0);
    assert.match(out, /--secret/);
    const nosecret = spawn(process.execPath, [main, "-p", "0"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, VIGIL_SINK_SECRET: "" } });
    let err = "";
    nosecret.stderr.on("data", (d) => (err += d));
    assert.equal((await once(nosecret, "exit"))[0], 2);
    assert.match(err, /a secret is required/);
    const run = spawn(process.execPath, [main, "-p", "0", "-d", dir, "-s", SECRET], { stdio: ["ignore", "pipe", "pipe"] });
    const [line] = (await once(run.stdout, "data")) as [Buffer];
    const { url } = JSON.parse(line.toString()) as { url: string };
    assert.equal((await post(url, [ev(1)])).status, 200);
    run.kill("SIGTERM");
    assert.equal((await once(run, "exit"))[0], 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
