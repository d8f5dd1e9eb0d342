import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RotatingLog, hashToken, logDirs, parseConfig, startService } from "@vigil/events";
import { startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { MAX_LOG_LINES } from "./logs.js";
import { startGateway } from "./mod.js";
import { MAX_SUBSCRIPTIONS } from "./session.js";
import { connectClient, type TestClient } from "./testing/ws-client.js";

// Issue 14, bounded logs: the gateway serves the files the supervisor's rotating writer leaves in the
// data dir, over HTTP (/api/logs/<name>) and the WebSocket (`logs` op, following while subscribed).
const TOKENS = { alice: "op-token-logs-0123456789", victor: "viewer-token-logs-0123456789", spender: "spender-token-logs-0123456789" };

describe("gateway logs: /api/logs/<name> and the WebSocket logs op over a real rotated worker log (real nats-server)", () => {
  let srv: TestNatsServer;
  let dir: string;
  let base: string;
  let wsUrl: string;
  let stop: () => Promise<void>;
  let sensorLog: RotatingLog;
  /** Appends lines the way the supervisor does (RotatingLog.write), and resolves once they are on disk. */
  const print = async (...lines: string[]) => {
    sensorLog.write(lines.map((l) => `${l}\n`).join(""));
    await (sensorLog as unknown as { draining?: Promise<void> }).draining;
  };
  const api = (path: string, token?: string): Promise<Omit<Response, "json"> & { json(): Promise<any> }> => fetch(base + path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const client = async (token: string): Promise<TestClient> => {
    const c = await connectClient(wsUrl, { token });
    await c.waitFor("hello", (m) => m.type === "hello");
    return c;
  };

  before(async () => {
    srv = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), "vigil-gw-logs-"));
    const config = parseConfig(
      {
        device: "gw-logs",
        dataDir: dir,
        nats: { url: srv.url },
        log: { level: "warn" },
        gateway: {
          port: 0,
          readEventsPerMinute: 1_000,
          tokens: [
            { name: "alice", role: "operator", sha256: hashToken(TOKENS.alice) },
            { name: "victor", role: "viewer", sha256: hashToken(TOKENS.victor) },
            { name: "spender", role: "viewer", sha256: hashToken(TOKENS.spender) },
          ],
        },
        workers: [{ name: "sensor", command: "sleep", args: ["600"] }],
      },
      { env: {} },
    );
    // 2,500 lines through 8 KiB files: the last lines span the live file and its rotations.
    sensorLog = new RotatingLog({ file: join(logDirs(dir).worker, "sensor.log"), maxFileBytes: 8192, keepFiles: 50 });
    await print(...Array.from({ length: 2_500 }, (_, i) => `sensor line ${i}`));
    assert.ok(sensorLog.stats.rotations > 3, `the log rotated (${sensorLog.stats.rotations} times)`);
    let resolveUrl!: (u: string) => void;
    const listening = new Promise<string>((r) => (resolveUrl = r));
    const running = await startService("gateway", config, (ctx) => startGateway(ctx, { onListening: (info) => resolveUrl(info.url) }));
    stop = running.stop;
    base = await listening;
    wsUrl = base.replace("http", "ws") + "/ws";
  });

  after(async () => {
    await stop?.();
    await sensorLog?.close();
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("GET /api/logs/<worker>?lines=N: the last N lines in order, across rotated files; a viewer may read; lines are capped", async () => {
    const r = await api("/api/logs/sensor?lines=5", TOKENS.victor);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { name: "sensor", kind: "worker", lines: ["sensor line 2495", "sensor line 2496", "sensor line 2497", "sensor line 2498", "sensor line 2499"], truncated: true });
    const many = await (await api("/api/logs/sensor?lines=800&since=1h", TOKENS.alice)).json();
    assert.equal(many.lines.length, 800);
    assert.equal(many.lines[0], "sensor line 1700", "the 800 lines run across several files without a gap");
    const capped = await (await api("/api/logs/sensor?lines=100000", TOKENS.alice)).json();
    assert.equal(capped.lines.length, MAX_LOG_LINES);
    assert.equal(capped.truncated, true);
    // A Vigil service with no log yet: known, empty.
    assert.deepEqual(await (await api("/api/logs/decider", TOKENS.victor)).json(), { name: "decider", kind: "service", lines: [], truncated: false });
  });

  it("unknown names, traversal and inherited names are 404; bad lines/since are 400 naming the parameter; no token is 401", async () => {
    for (const name of ["nope", "__proto__", "constructor", "toString", "..%2F..%2Fetc%2Fpasswd", "sensor%2F..%2F..%2Fgateway.token", "%2e%2e", "sensor.log", "sensor/extra"]) {
      const r = await api(`/api/logs/${name}`, TOKENS.victor);
      assert.equal(r.status, 404, `${name}: ${r.status}`);
      const body = await r.json();
      assert.equal(body.error.code, "not_found", name);
    }
    // `..` segments are resolved by the URL itself: they never reach the route.
    assert.equal((await api("/api/logs/../../gateway.token", TOKENS.victor)).status, 404);
    for (const [q, field] of [["lines=-1", "lines"], ["lines=abc", "lines"], ["lines=1.5", "lines"], ["since=yesterday", "since"]] as const) {
      const r = await api(`/api/logs/sensor?${q}`, TOKENS.victor);
      assert.equal(r.status, 400, q);
      assert.match((await r.json()).error.message, new RegExp(`^${field}:`), q);
    }
    assert.equal((await api("/api/logs/sensor")).status, 401);
  });

  it("charges lines read to the token's read budget (429 with Retry-After when spent), other tokens unaffected", async () => {
    assert.equal((await api("/api/logs/sensor?lines=1000", TOKENS.spender)).status, 200);
    const r = await api("/api/logs/sensor?lines=1", TOKENS.spender);
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get("retry-after")) >= 1);
    assert.match((await r.json()).error.message, /readEventsPerMinute/);
    assert.equal((await api("/api/logs/sensor?lines=1", TOKENS.victor)).status, 200);
  });

  it("WebSocket logs op: last lines, then follow sees a newly printed line until unsubscribe; errors for bad requests; follows count as subscriptions", async () => {
    const c = await client(TOKENS.victor);
    try {
      c.send({ id: "tail", op: "logs", name: "sensor", lines: 2 });
      const once = await c.waitFor("logs answer", (m) => m.type === "logs" && m.id === "tail");
      assert.deepEqual(once.lines, ["sensor line 2498", "sensor line 2499"]);
      assert.equal(once.follow, false);

      c.send({ id: "f1", op: "logs", name: "sensor", lines: 1, follow: true });
      const first = await c.waitFor("logs answer (follow)", (m) => m.type === "logs" && m.id === "f1");
      assert.equal(first.sub, "f1");
      assert.equal(first.follow, true);
      await print("a new line from the sensor");
      const followed = await c.waitFor("the followed line", (m) => m.type === "logs" && m.sub === "f1" && m.id === null);
      assert.deepEqual(followed.lines, ["a new line from the sensor"]);

      c.send({ id: "u1", op: "unsubscribe", sub: "f1" });
      await c.waitFor("unsubscribed", (m) => m.type === "unsubscribed" && m.sub === "f1");

      c.send({ id: "bad1", op: "logs", name: "__proto__" });
      assert.equal((await c.waitFor("not_found", (m) => m.type === "error" && m.id === "bad1")).code, "not_found");
      c.send({ id: "bad2", op: "logs", name: "../sensor" });
      assert.equal((await c.waitFor("bad name", (m) => m.type === "error" && m.id === "bad2")).code, "bad_request");
      c.send({ id: "bad3", op: "logs", name: "sensor", lines: -3 });
      assert.match((await c.waitFor("bad lines", (m) => m.type === "error" && m.id === "bad3")).message, /^lines:/);
      c.send({ id: "bad4", op: "logs", name: "sensor", follow: "yes" });
      assert.match((await c.waitFor("bad follow", (m) => m.type === "error" && m.id === "bad4")).message, /^follow:/);

      // Followed logs and event subscriptions share the connection's MAX_SUBSCRIPTIONS slots.
      for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) c.send({ id: `f-${i}`, op: "logs", name: "sensor", lines: 0, follow: true });
      for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) await c.waitFor(`follow ${i}`, (m) => m.type === "logs" && m.id === `f-${i}`);
      c.send({ id: "one-too-many", op: "subscribe" });
      assert.equal((await c.waitFor("limit", (m) => m.type === "error" && m.id === "one-too-many")).code, "limit");
      const metrics = await (await api("/metrics", TOKENS.alice)).text();
      assert.match(metrics, new RegExp(`^vigil_gateway_subscriptions ${MAX_SUBSCRIPTIONS}$`, "m"));
    } finally {
      c.close();
      await c.closed;
    }
  });
});
