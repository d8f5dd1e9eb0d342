import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer as createHttp, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcp, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { AddressInfo, Socket } from "node:net";
import { connectBus, createPublisher, ensureStream, is, parseConfig, verifyWebhook } from "@vigil/events";
import { freePort, startNatsServer, watchEvents } from "@vigil/events/testing";
import { jetstreamManager } from "@nats-io/jetstream";

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "main.js");
const SECRET = "alerts-test-secret-0123456789";
const freePortOf = (s: TcpServer) => (s.address() as AddressInfo).port;

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  verdict: ReturnType<typeof verifyWebhook>;
}

/** A receiver that does what docs/unattended.md tells receivers to do: verify, refuse stale or replayed deliveries. */
function receiver(port: number): Promise<{ server: Server; got: Received[]; close(): Promise<void> }> {
  const seen = new Set<string>();
  const got: Received[] = [];
  const server = createHttp((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const verdict = verifyWebhook(SECRET, req.headers, body, { seen });
      got.push({ headers: req.headers, body, verdict });
      res.statusCode = verdict.ok ? 204 : verdict.reason === "replay" ? 409 : 401;
      res.end();
    });
  });
  return new Promise((r) => server.listen(port, "127.0.0.1", () => r({ server, got, close: () => new Promise<void>((c) => server.close(() => c())) })));
}

test("escalated and resolved reach a receiver that was down for a while, signed and replay-refusable; a refusing, a hanging and a garbage target are each reported once and hold nothing up", { timeout: 120_000 }, async () => {
  const device = "alerts-1";
  const srv = await startNatsServer();
  const nc = await connectBus({ url: srv.url }, "test");
  await ensureStream(await jetstreamManager(nc, { checkAPI: false }), parseConfig({}).stream);
  const events = await watchEvents(nc, { filter: `vigil.${device}.sys.>` });
  const [goodPort, refusedPort] = [await freePort(), await freePort()];
  // Hangs: accepts and never answers. Garbage: answers bytes that are not HTTP.
  const held: Socket[] = [];
  const hang: TcpServer = createTcp((s) => void held.push(s)).listen(0, "127.0.0.1");
  const garbage: TcpServer = createTcp((s) => s.end("\x00\x01 not http at all\r\n\r\n")).listen(0, "127.0.0.1");
  await Promise.all([hang, garbage].map((s) => new Promise((r) => s.once("listening", r))));
  const dir = mkdtempSync(join(tmpdir(), "vigil-alerts-"));
  writeFileSync(join(dir, "good.secret"), SECRET, { mode: 0o600 });
  const cfg = join(dir, "vigil.yaml");
  writeFileSync(cfg, stringify({
    device,
    dataDir: dir,
    alerts: {
      retryBaseMs: 100,
      retryCapMs: 1_000,
      targets: [
        { name: "good", url: `http://127.0.0.1:${goodPort}/hook`, secretFile: "good.secret", on: ["escalated", "resolved"] },
        { name: "refused", url: `http://127.0.0.1:${refusedPort}/`, secret: SECRET },
        { name: "hangs", url: `http://127.0.0.1:${freePortOf(hang)}/`, secret: SECRET, timeoutMs: 500 },
        { name: "garbage", url: `http://127.0.0.1:${freePortOf(garbage)}/`, secret: SECRET },
      ],
    },
  }));
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, VIGIL_CONFIG: cfg, VIGIL_NATS_URL: srv.url, VIGIL_LOG_LEVEL: "warn" }, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  const decider = await createPublisher(nc, { device, source: `vigil/${device}/decider` });
  let good: Awaited<ReturnType<typeof receiver>> | undefined;
  try {
    await events.waitFor("alerts started", (e) => is(e, "sys.service.started") && e.data.service === "alerts", 20_000);
    const incident = "6f1b1c9e-0000-4000-8000-000000000001";
    await decider.emit("dec.incident.opened", { worker: "pump", reason: "crashed" }, { incident }); // no target asks for "opened" here: acked without a delivery
    const esc = await decider.emit("dec.incident.escalated", { worker: "pump", reason: "crash loop", restarts: 6, windowMs: 60_000 }, { incident });
    const res = await decider.emit("dec.incident.resolved", { worker: "pump", reason: "stable again" }, { incident });
    for (const t of ["good", "refused", "hangs", "garbage"]) {
      await events.waitFor(`${t} reported failing`, (e) => is(e, "sys.alerts.target.failing") && e.data.target === t, 20_000);
    }
    // The receiver comes up: both alerts arrive later, signed.
    good = await receiver(goodPort);
    const g = good;
    await events.waitFor("good recovered", (e) => is(e, "sys.alerts.target.recovered") && e.data.target === "good", 20_000);
    const deadline = Date.now() + 20_000;
    while (g.got.filter((x) => x.verdict.ok).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const ok = g.got.filter((x) => x.verdict.ok);
    assert.equal(ok.length, 2, JSON.stringify(g.got.map((x) => x.verdict)));
    const bodies = ok.map((x) => JSON.parse(x.body) as { specversion: string; type: string; id: string; data: { worker: string; incident: string; transition: string } });
    assert.deepEqual(bodies.map((b) => b.type).sort(), ["io.vigil.alert.escalated", "io.vigil.alert.resolved"]);
    assert.deepEqual(bodies.map((b) => b.id).sort(), [esc.event.id, res.event.id].sort());
    for (const b of bodies) {
      assert.equal(b.specversion, "1.0");
      assert.equal(b.data.worker, "pump");
      assert.equal(b.data.incident, incident);
    }
    assert.equal(ok[0]!.headers["content-type"], "application/cloudevents+json");
    // A captured delivery sent again is refused: same id (replay); a forged body fails the signature.
    const replay = await fetch(`http://127.0.0.1:${goodPort}/hook`, { method: "POST", body: ok[0]!.body, headers: ok[0]!.headers as Record<string, string> });
    assert.equal(replay.status, 409);
    const forged = await fetch(`http://127.0.0.1:${goodPort}/hook`, { method: "POST", body: ok[0]!.body.replace("pump", "pumq"), headers: { ...(ok[0]!.headers as Record<string, string>), "x-vigil-delivery": "new-id" } });
    assert.equal(forged.status, 401);
    // Each broken target was said once, however many retries it took.
    for (const t of ["refused", "hangs", "garbage"]) {
      assert.equal(events.events.filter((e) => is(e, "sys.alerts.target.failing") && e.data.target === t).length, 1, t);
    }
    assert.equal(child.exitCode, null, log);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await good?.close();
    for (const s of held) s.destroy();
    hang.close();
    garbage.close();
    await decider.close();
    await events.close();
    await nc.close();
    await srv.cleanup();
  }
});
