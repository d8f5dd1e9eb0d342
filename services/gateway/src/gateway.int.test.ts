import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { connect as tcpConnect } from "node:net";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import { encodeEvent, hashToken, makeEvent, parseConfig, startService, type NatsConnection, type VigilEvent } from "@vigil/events";
import { connectBus } from "@vigil/events";
import { startNatsServer, watchEvents, type TestNatsServer } from "@vigil/events/testing";
import { startGateway, type Gateway } from "./mod.js";
import { connectClient, type TestClient } from "./testing/ws-client.js";

const OPERATOR = "op-token-0123456789abcdef";
const VIEWER = "viewer-token-0123456789abcdef";
const DEVICE = "gw-1";

describe("gateway: HTTP API, WebSocket protocol, auth and limits (real nats-server)", () => {
  let srv: TestNatsServer;
  let dir: string;
  let base: string;
  let wsUrl: string;
  let gw: Gateway;
  let stop: () => Promise<void>;
  let nc: NatsConnection;

  const api = (path: string, init: RequestInit & { token?: string } = {}): Promise<Omit<Response, "json"> & { json(): Promise<any> }> =>
    fetch(base + path, { ...init, headers: { ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { "Content-Type": "application/json" } : {}), ...(init.headers ?? {}) } });
  const ev = (name: Parameters<typeof makeEvent>[2], data: any, meta: Parameters<typeof makeEvent>[4] = {}) => makeEvent(DEVICE, `vigil/${DEVICE}/test`, name, data, meta);
  /** Core publish onto a stream subject: stored by JetStream, fast enough to flood. */
  const put = (e: VigilEvent) => nc.publish(e.subject, encodeEvent(e));
  const client = async (token = OPERATOR) => {
    const c = await connectClient(wsUrl, { token });
    await c.waitFor("hello", (m) => m.type === "hello");
    return c;
  };

  before(async () => {
    srv = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), "vigil-gw-"));
    const config = parseConfig(
      {
        device: DEVICE,
        dataDir: dir,
        nats: { url: srv.url },
        log: { level: "warn" },
        gateway: {
          port: 0,
          tokens: [
            { name: "alice", role: "operator", sha256: hashToken(OPERATOR) },
            { name: "victor", role: "viewer", sha256: hashToken(VIEWER) },
          ],
          commandsPerMinute: 1,
          commandBurst: 3,
          maxFrameBytes: 4096,
          clientBufferBytes: 16384,
        },
        workers: [{ name: "sensor", command: "sleep", args: ["600"] }],
      },
      { env: {} },
    );
    let resolveInfo!: (v: { url: string }) => void;
    const listening = new Promise<{ url: string }>((r) => (resolveInfo = r));
    const running = await startService("gateway", config, (ctx) =>
      startGateway(ctx, {
        onListening: (info, g) => {
          gw = g;
          resolveInfo(info);
        },
      }),
    );
    stop = running.stop;
    base = (await listening).url;
    wsUrl = base.replace("http", "ws") + "/ws";
    nc = await connectBus({ url: srv.url }, "test");
  });

  after(async () => {
    await stop?.();
    await nc?.close();
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("needs a token for the API and metrics (401 without or with a wrong one), not for /healthz", async () => {
    assert.equal((await api("/healthz")).status, 200);
    const none = await api("/api/state");
    assert.equal(none.status, 401);
    assert.match((await none.json()).error.message, /Authorization: Bearer/);
    assert.equal((await api("/api/state", { token: "wrong-token-xxxxxxxxxxxx" })).status, 401);
    assert.equal((await api("/metrics")).status, 401);
    const st = await api("/api/state", { token: VIEWER });
    assert.equal(st.status, 200);
    const body = await st.json();
    assert.equal(body.device, DEVICE);
    assert.deepEqual(body.you, { name: "victor", role: "viewer" });
    assert.equal(body.workers[0].name, "sensor");
    const page = await api("/");
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Vigil console<\/title>/);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  });

  it("closes a WebSocket without a valid token with 4401, refuses a bad header with 401 and a foreign origin with 403", async () => {
    await assert.rejects(connectClient(wsUrl, { token: "not-a-token-xxxxxxxxxxxx" }), (e: any) => e.status === 401);
    await assert.rejects(connectClient(wsUrl, { token: OPERATOR, origin: "http://evil.example" }), (e: any) => e.status === 403);
    const anon = await connectClient(wsUrl);
    const hello = await anon.waitFor("hello", (m) => m.type === "hello");
    assert.equal(hello.authenticated, false);
    anon.send({ id: 1, op: "subscribe" });
    assert.equal((await anon.closed).code, 4401);
    const wrong = await connectClient(wsUrl);
    wrong.send({ id: 1, op: "auth", token: "nope-nope-nope-nope" });
    const c = await wrong.closed;
    assert.equal(c.code, 4401);
    assert.match(c.reason, /invalid token/);
    // Silence is not authentication either: closed after AUTH_TIMEOUT_MS (5 s).
    const silent = await connectClient(wsUrl);
    const t0 = Date.now();
    const silentClose = await silent.closed;
    assert.equal(silentClose.code, 4401);
    assert.ok(Date.now() - t0 >= 4_000, "after the auth timeout");
    // First-frame auth (what the browser does) works.
    const browser = await connectClient(wsUrl, { origin: base });
    browser.send({ id: "a", op: "auth", token: VIEWER });
    const ok = await browser.waitFor("authenticated", (m) => m.type === "authenticated");
    assert.deepEqual([ok.user, ok.role], ["victor", "viewer"]);
    browser.close();
  });

  it("refuses commands from a viewer, publishes an operator's with who sent it, rejects undeclared workers and rate-limits", async () => {
    const log = await watchEvents(nc, { filter: `vigil.${DEVICE}.cmd.>` });
    try {
      const v = await api("/api/commands", { method: "POST", token: VIEWER, body: JSON.stringify({ action: "restart", worker: "sensor" }) });
      assert.equal(v.status, 403);
      const viewer = await client(VIEWER);
      viewer.send({ id: "c1", op: "command", action: "restart", worker: "sensor" });
      const refused = await viewer.waitFor("error", (m) => m.type === "error" && m.id === "c1");
      assert.equal(refused.code, "forbidden");
      viewer.send({ id: "p", op: "ping" });
      await viewer.waitFor("pong: still open", (m) => m.type === "pong");
      viewer.close();

      const r = await api("/api/commands", { method: "POST", token: OPERATOR, body: JSON.stringify({ action: "restart", worker: "sensor", reason: "test" }) });
      assert.equal(r.status, 202);
      const { command } = await r.json();
      const cmd = await log.waitFor("restart command", (e) => e.id === command.id);
      assert.equal(cmd.type, "io.vigil.cmd.worker.restart");
      assert.equal((cmd.data as any).requestedBy, "alice");
      assert.equal((cmd.data as any).worker, "sensor");

      const undeclared = await api("/api/commands", { method: "POST", token: OPERATOR, body: JSON.stringify({ action: "kill", worker: "sshd" }) });
      assert.equal(undeclared.status, 404);
      assert.match((await undeclared.json()).error.message, /not declared/);
      const bad = await api("/api/commands", { method: "POST", token: OPERATOR, body: JSON.stringify({ action: "exec", worker: "sensor" }) });
      assert.equal(bad.status, 400);
      const notJson = await api("/api/commands", { method: "POST", token: OPERATOR, body: "{nope" });
      assert.equal(notJson.status, 400);
      assert.equal((await notJson.json()).error.code, "bad_json");
      const huge = await api("/api/commands", { method: "POST", token: OPERATOR, body: JSON.stringify({ action: "restart", worker: "sensor", reason: "x".repeat(10_000) }) });
      assert.equal(huge.status, 413, "a body over maxFrameBytes is refused");

      // Burst 3: one used above; a WebSocket command uses the second; the fourth is refused.
      const op = await client();
      op.send({ id: "w1", op: "command", action: "pause", worker: "sensor" });
      const accepted = await op.waitFor("command accepted", (m) => m.id === "w1");
      assert.equal(accepted.type, "command");
      assert.equal((await log.waitFor("pause command", (e) => e.id === accepted.command.id)).data && (accepted.command.requestedBy as string), "alice");
      await api("/api/commands", { method: "POST", token: OPERATOR, body: JSON.stringify({ action: "resume", worker: "sensor" }) });
      const limited = await api("/api/commands", { method: "POST", token: OPERATOR, body: JSON.stringify({ action: "resume", worker: "sensor" }) });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      op.send({ id: "w2", op: "command", action: "restart", worker: "sensor" });
      assert.equal((await op.waitFor("rate limited", (m) => m.id === "w2")).code, "rate_limited");
      op.close();
      const metrics = await (await api("/metrics", { token: VIEWER })).text();
      assert.match(metrics, /vigil_gateway_commands_refused_total\{reason="rate_limited"\} [1-9]/);
      assert.match(metrics, /vigil_gateway_commands_refused_total\{reason="forbidden"\} [1-9]/);
    } finally {
      await log.close();
    }
  });

  it("a client still sending an oversized body reads the 413 and its JSON error, not a reset (Content-Length and chunked)", async () => {
    /** POSTs 1.5 MB (declared, or chunked in 64 KiB writes) and resolves with what the client could read. */
    const upload = (chunked: boolean) =>
      new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
        const body = Buffer.alloc(1_500_000, 0x61);
        const headers = { Authorization: `Bearer ${OPERATOR}`, "Content-Type": "application/json", ...(chunked ? {} : { "Content-Length": String(body.length) }) };
        const req = request(`${base}/api/commands`, { method: "POST", headers, agent: false }, (res) => {
          let b = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (b += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
        });
        req.on("error", (err) => resolve({ error: `${(err as NodeJS.ErrnoException).code}: ${err.message}` }));
        if (!chunked) return void req.end(body);
        for (let i = 0; i < body.length; i += 65_536) req.write(body.subarray(i, i + 65_536));
        req.end();
      });
    for (let i = 0; i < 10; i++) {
      for (const chunked of [false, true]) {
        const r = await upload(chunked);
        assert.ok("status" in r, `${chunked ? "chunked" : "Content-Length"} upload #${i}: ${"error" in r ? r.error : ""}`);
        assert.equal(r.status, 413);
        assert.equal(JSON.parse(r.body).error.code, "limit");
      }
    }
    // A client that pauses in the middle of its upload: the gateway must not cut it off and reset the
    // rest of its writes; it reads the whole body, throws it away, then answers.
    const port = new URL(base).port;
    const slow = await new Promise<{ text: string; error?: string }>((resolve) => {
      const s = tcpConnect(Number(port), "127.0.0.1");
      let text = "";
      let error: string | undefined;
      s.on("data", (d) => (text += d.toString("latin1")));
      s.on("error", (err) => (error = `${(err as NodeJS.ErrnoException).code}: ${err.message}`));
      s.on("close", () => resolve({ text, error }));
      const total = 1_000_000;
      s.write(`POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`);
      s.write("a".repeat(200_000));
      setTimeout(() => {
        s.write("a".repeat(total - 200_000));
        setTimeout(() => s.end(), 500);
      }, 300);
    });
    assert.equal(slow.error, undefined, `the upload was cut off: ${slow.error}; read: ${slow.text.slice(0, 200)}`);
    assert.match(slow.text, /^HTTP\/1\.1 413 /);
    assert.match(slow.text, /"code":"limit"/);
    assert.equal((await api("/healthz")).status, 200, "and the gateway keeps serving");
  });

  it("answers malformed JSON, unknown ops, bad fields and 10,000 random frames with errors, closes oversized frames with 1009, and keeps serving everyone else", async () => {
    const watcher = await client(VIEWER);
    watcher.send({ id: "live", op: "subscribe", filters: [`vigil.${DEVICE}.obs.>`] });
    await watcher.waitFor("subscribed", (m) => m.type === "subscribed" && m.id === "live");

    const fuzz = await client();
    fuzz.send("{not json");
    assert.equal((await fuzz.waitFor("bad_json", (m) => m.type === "error")).code, "bad_json");
    fuzz.send({ id: "u", op: "frobnicate" });
    assert.equal((await fuzz.waitFor("unknown_op", (m) => m.type === "error" && m.id === "u")).code, "unknown_op");
    fuzz.send({ id: "s", op: "subscribe", filters: ["foo.>"] });
    assert.match((await fuzz.waitFor("bad filter", (m) => m.type === "error" && m.id === "s")).message, /not a subject filter/);
    fuzz.send({ id: "v", v: 2, op: "ping" });
    assert.equal((await fuzz.waitFor("version", (m) => m.type === "error" && m.id === "v")).code, "unsupported_version");
    fuzz.send({ op: "ping" });
    assert.match((await fuzz.waitFor("no id", (m) => m.type === "error" && m.id === null && /id/.test(m.message))).message, /needs an id/);

    // 10,000 random frames: random bytes, random JSON values, random objects with random ops.
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const before = fuzz.messages.length;
    for (let i = 0; i < 10_000; i++) {
      const k = rnd();
      let frame: string;
      if (k < 0.3) frame = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256))).toString("latin1");
      else if (k < 0.5) frame = JSON.stringify(pick([null, 1, "x", [], [1, 2], true, { a: 1 }]));
      else frame = JSON.stringify({ id: i, op: pick(["subscribe", "unsubscribe", "command", "replay", "cancel", "auth", "zzz", 7, null]), filters: pick([undefined, [], ["vigil.>>"], "x", [1]]), from: pick([undefined, { seq: -1 }, { time: "yesterday" }, "sometime"]), action: pick([undefined, "rm", "restart"]), worker: pick([undefined, "../../bin/sh", "nope"]), sub: pick([undefined, "none"]), incident: pick([undefined, 5]), speed: pick([undefined, -1, 1e9]) });
      fuzz.send(frame);
    }
    fuzz.send({ id: "after-fuzz", op: "ping" });
    await fuzz.waitFor("pong after the fuzz", (m) => m.type === "pong" && m.id === "after-fuzz", 30_000);
    const replies = fuzz.messages.slice(before);
    assert.ok(replies.filter((m) => m.type === "error").length >= 9_000, `errors for the garbage (${replies.length} replies)`);
    const odd = replies.filter((m) => !["error", "pong", "subscribed", "unsubscribed", "events", "lagged"].includes(m.type));
    assert.deepEqual(odd, [], "only documented replies");

    // Everyone else is still served: a live event reaches the other client.
    const marker = ev("obs.worker.started", { worker: "sensor", pid: 4242, command: "sleep 600" });
    put(marker);
    await watcher.waitFor("live event after the fuzz", (m) => m.type === "events" && m.events.some((e: any) => e.id === marker.id));

    const big = await client();
    big.send({ id: "big", op: "ping", pad: "x".repeat(5000) });
    assert.equal((await big.closed).code, 1009);
    assert.equal((await api("/healthz")).status, 200);
    watcher.send({ id: "p2", op: "ping" });
    await watcher.waitFor("watcher still open", (m) => m.id === "p2");
    fuzz.close();
    watcher.close();
  });

  it("subscribe from sequence N while events are being published: history then live, no gap, no repeat", async () => {
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 300; i++) put(ev("obs.worker.stable", { worker: "sensor", pid: 100 + i, uptimeMs: i }));
    await nc.flush();
    const startAt = (await jsm.streams.info("VIGIL")).state.last_seq - 250;
    let publishing = true;
    let published = 0;
    const pump = (async () => {
      while (publishing) {
        for (let i = 0; i < 20; i++) put(ev("obs.worker.stable", { worker: "sensor", pid: 1000 + published++, uptimeMs: 1 }));
        await nc.flush();
        await new Promise((r) => setImmediate(r));
      }
    })();
    const c = await client(VIEWER);
    c.send({ id: "from", op: "subscribe", filters: ["vigil.>"], from: { seq: startAt } });
    await c.waitFor("subscribed", (m) => m.type === "subscribed" && m.id === "from");
    await c.waitFor("well into live events", (m) => m.type === "events" && m.events.some((e: any) => e.data.pid >= 1000 + 400), 20_000);
    publishing = false;
    await pump;
    await nc.flush();
    const last = (await jsm.streams.info("VIGIL")).state.last_seq;
    await c.waitFor("the last event", (m) => m.type === "events" && m.events.some((e: any) => e.seq === last), 20_000);
    const seqs = c.messages.filter((m) => m.type === "events" && m.sub === "from").flatMap((m) => m.events.map((e: any) => e.seq));
    assert.equal(seqs[0], startAt, "starts at N");
    const expected = Array.from({ length: last - startAt + 1 }, (_, i) => startAt + i);
    assert.deepEqual(seqs, expected, "every sequence once, in order");
    assert.equal(c.messages.filter((m) => m.type === "lagged").length, 0);
    c.send({ id: "un", op: "unsubscribe", sub: "from" });
    await c.waitFor("unsubscribed", (m) => m.type === "unsubscribed");
    c.close();
  });

  it("a client that stops reading is sent no more than its buffer: events are dropped for it and it is told how many", async () => {
    const slow = await client(VIEWER);
    slow.send({ id: "s", op: "subscribe", filters: [`vigil.${DEVICE}.obs.>`] });
    await slow.waitFor("subscribed", (m) => m.type === "subscribed");
    (slow.ws as any)._socket.pause(); // stop reading: the gateway's socket buffer fills
    const reason = "x".repeat(900);
    const droppedBefore = gw.dropped.n;
    let n = 0;
    const start = Date.now();
    while (gw.dropped.n === droppedBefore && Date.now() - start < 30_000) {
      for (let i = 0; i < 500; i++) put(ev("obs.worker.exited", { worker: "sensor", pid: 1, code: 1, signal: null, expected: false, uptimeMs: n++, error: reason }));
      await nc.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(gw.dropped.n > droppedBefore, "events were dropped for the slow client");
    const rss = process.memoryUsage().rss;
    (slow.ws as any)._socket.resume();
    const lagged = await slow.waitFor("lagged notice", (m) => m.type === "lagged", 20_000);
    assert.ok(lagged.dropped > 0 && lagged.fromSeq > 0 && lagged.toSeq >= lagged.fromSeq);
    assert.ok(rss < 1024 * 1024 * 1024);
    slow.close();
  });

  it("shows an incident's events in stream order and replays them (speed factor), and reports metrics with consumer lag", async () => {
    const incident = "0badc0de-0000-4000-8000-000000000001";
    const exit = ev("obs.worker.exited", { worker: "sensor", pid: 77, code: null, signal: "SIGKILL", expected: false, uptimeMs: 500 }, { incident });
    const t = exit.time;
    const chain = [
      exit,
      ev("dec.incident.opened", { worker: "sensor", reason: "sensor killed by SIGKILL" }, { incident, causation: exit.id, correlation: incident, time: t }),
      ev("dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 0, delayMs: 0, reason: "crashed" }, { incident, causation: exit.id, correlation: incident, time: t }),
      ev("cmd.worker.restart", { worker: "sensor", delayMs: 0, requestedBy: "decider" }, { incident, causation: exit.id, time: t }),
    ];
    chain.push(ev("out.worker.restarted", { worker: "sensor", command: chain[3]!.id, requestedBy: "decider", pid: 78, previousPid: 77 }, { incident, causation: chain[3]!.id }));
    for (const e of chain) put(e);
    await nc.flush();
    const r = await api(`/api/incidents/${incident}`, { token: VIEWER });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.deepEqual(body.events.map((e: any) => e.id), chain.map((e) => e.id));
    assert.equal((await api("/api/incidents/nope-nope", { token: VIEWER })).status, 404);

    const c = await client(VIEWER);
    c.send({ id: "rp", op: "replay", incident, speed: 0 });
    const done = await c.waitFor("replay done", (m) => m.type === "replay.done" && m.replay === "rp");
    assert.equal(done.sent, 5);
    const played = c.messages.filter((m) => m.type === "replay.event").map((m) => m.event.type.replace("io.vigil.", ""));
    assert.deepEqual(played, ["obs.worker.exited", "dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart", "out.worker.restarted"]);
    c.send({ id: "rp2", op: "replay", incident: "missing-incident" });
    assert.equal((await c.waitFor("no such incident", (m) => m.id === "rp2")).code, "not_found");
    c.close();

    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add("VIGIL", { durable_name: "laggard", ack_policy: AckPolicy.Explicit, filter_subject: `vigil.${DEVICE}.>` });
    const text = await (await api("/metrics", { token: VIEWER })).text();
    assert.match(text, /# TYPE vigil_events_total counter/);
    assert.match(text, /vigil_events_total\{kind="obs",type="obs.worker.exited"\} [1-9]/);
    assert.match(text, /vigil_consumer_pending_messages\{consumer="laggard"\} [1-9]\d*/);
    assert.match(text, /vigil_gateway_clients \d+/);
    assert.match(text, /vigil_incidents_open 0/);
  });
});
