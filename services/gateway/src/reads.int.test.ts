import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { DECIDER_BUCKET, connectBus, encodeEvent, hashToken, makeEvent, parseConfig, startService, type NatsConnection, type VigilEvent } from "@vigil/events";
import { startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { startGateway } from "./mod.js";
import { connectClient, type TestClient } from "./testing/ws-client.js";

// What the gateway lets one token make it read (issue 11, parts 5, 6 and 7a): inherited names as ids,
// concurrent replays, consumers left behind, paging, the read budget, unknown incidents, the CSP.
const DEVICE = "gw-reads";
const PAGE_DEVICE = "pager-dev";
const TOKENS = { alice: "op-token-reads-0123456789", victor: "viewer-token-reads-0123456789", pager: "pager-token-reads-0123456789", spender: "spender-token-reads-0123456789", replayer: "replayer-token-reads-0123456789" };
const INHERITED = ["__proto__", "constructor", "toString", "valueOf", "hasOwnProperty"];

/** Polls `cond` until it holds or the deadline passes (then fails with what it last saw). */
async function waitUntil<T>(what: string, cond: () => Promise<T | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const v = await cond().catch((err) => ((last = err), false as const));
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${String(last ?? "")})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("gateway reads: inherited names, per-token limits, paging, consumers cleaned up (real nats-server)", () => {
  let srv: TestNatsServer;
  let dir: string;
  let base: string;
  let wsUrl: string;
  let stop: () => Promise<void>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  const api = (path: string, token: string, init: RequestInit = {}): Promise<Omit<Response, "json"> & { json(): Promise<any> }> => fetch(base + path, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.body ? { "Content-Type": "application/json" } : {}) } });
  const ev = (device: string, name: Parameters<typeof makeEvent>[2], data: any, meta: Parameters<typeof makeEvent>[4] = {}) => makeEvent(device, `vigil/${device}/test`, name, data, meta);
  const put = (e: VigilEvent) => nc.publish(e.subject, encodeEvent(e));
  const client = async (token: string): Promise<TestClient> => {
    const c = await connectClient(wsUrl, { token });
    await c.waitFor("hello", (m) => m.type === "hello");
    return c;
  };
  const consumers = async () => (await jsm.consumers.list("VIGIL").next()).length;

  before(async () => {
    srv = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), "vigil-gw-reads-"));
    const config = parseConfig(
      {
        device: DEVICE,
        dataDir: dir,
        nats: { url: srv.url },
        log: { level: "warn" },
        gateway: {
          port: 0,
          tokens: [
            { name: "alice", role: "operator", sha256: hashToken(TOKENS.alice) },
            { name: "victor", role: "viewer", sha256: hashToken(TOKENS.victor) },
            { name: "pager", role: "viewer", sha256: hashToken(TOKENS.pager) },
            { name: "spender", role: "viewer", sha256: hashToken(TOKENS.spender) },
            { name: "replayer", role: "viewer", sha256: hashToken(TOKENS.replayer) },
          ],
          readsPerToken: 2,
          replaysPerToken: 2,
          readEventsPerMinute: 60_000,
        },
        workers: [{ name: "sensor", command: "sleep", args: ["600"] }],
      },
      { env: {} },
    );
    let resolveUrl!: (u: string) => void;
    const listening = new Promise<string>((r) => (resolveUrl = r));
    const running = await startService("gateway", config, (ctx) => startGateway(ctx, { onListening: (info) => resolveUrl(info.url) }));
    stop = running.stop;
    base = await listening;
    wsUrl = base.replace("http", "ws") + "/ws";
    nc = await connectBus({ url: srv.url }, "test");
    jsm = await jetstreamManager(nc);
    // The decider's snapshot as the decider writes it (plain JSON objects): one worker, one closed incident.
    const openedAt = new Date(Date.now() - 10 * 60_000).toISOString();
    const snapshot = {
      version: 1,
      seq: 0,
      state: {
        workers: { sensor: { status: "running", pid: 4242, attempt: 0, restartTimes: [], restarts: 1 } },
        incidents: { "inc-known-1": { id: "inc-known-1", worker: "sensor", status: "resolved", reason: "test", openedAt, closedAt: openedAt } },
      },
    };
    const kv = await new Kvm(nc).open(DECIDER_BUCKET);
    await kv.put(DEVICE, JSON.stringify(snapshot));
    await waitUntil("the gateway has the decider's snapshot", async () => {
      const s = await (await api("/api/state", TOKENS.victor)).json();
      return s.incidents.some((i: any) => i.id === "inc-known-1");
    }, 10_000);
  });

  after(async () => {
    await stop?.();
    await nc?.close();
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers __proto__, constructor, toString, valueOf, hasOwnProperty as incident and worker ids with 404 or an error, never a 500 (HTTP and WebSocket)", async () => {
    for (const name of INHERITED) {
      const inc = await api(`/api/incidents/${name}`, TOKENS.victor);
      assert.equal(inc.status, 404, `GET /api/incidents/${name}`);
      assert.equal((await inc.json()).error.code, "not_found");
      const cmd = await api("/api/commands", TOKENS.alice, { method: "POST", body: JSON.stringify({ action: "restart", worker: name }) });
      assert.equal(cmd.status, 404, `a command for worker ${name}`);
      assert.equal((await cmd.json()).error.code, "not_found");
    }
    const c = await client(TOKENS.alice);
    for (const name of INHERITED) {
      c.send({ id: `r-${name}`, op: "replay", incident: name, speed: 0 });
      assert.equal((await c.waitFor(`replay ${name}`, (m) => m.id === `r-${name}`)).code, "not_found");
      c.send({ id: `c-${name}`, op: "command", action: "restart", worker: name });
      assert.equal((await c.waitFor(`command ${name}`, (m) => m.id === `c-${name}`)).code, "not_found");
      c.send({ id: `x-${name}`, op: "cancel", replay: name });
      assert.equal((await c.waitFor(`cancel ${name}`, (m) => m.id === `x-${name}`)).code, "not_found");
      c.send({ id: `u-${name}`, op: "unsubscribe", sub: name });
      assert.equal((await c.waitFor(`unsubscribe ${name}`, (m) => m.id === `u-${name}`)).code, "not_found");
      c.send({ id: `s-${name}`, op: "subscribe", filters: [`vigil.${name}.>`], from: "all" });
      assert.equal((await c.waitFor(`subscribe ${name}`, (m) => m.id === `s-${name}`)).type, "subscribed");
      c.send({ id: `s2-${name}`, op: "unsubscribe", sub: `s-${name}` });
      assert.equal((await c.waitFor(`unsubscribed ${name}`, (m) => m.id === `s2-${name}`)).type, "unsubscribed");
    }
    assert.deepEqual(c.messages.filter((m) => m.code === "internal"), [], "no internal errors");
    c.close();
    const state = await (await api("/api/state", TOKENS.victor)).json();
    assert.deepEqual(state.workers.map((w: any) => [w.name, w.status]), [["sensor", "running"]]);
    assert.equal((await api("/api/incidents/inc-known-1", TOKENS.victor)).status, 200, "a known incident is still found");
  });

  it("answers an unknown incident id 404 without creating a consumer", async () => {
    const created: string[] = [];
    const sub = nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.VIGIL.>", { callback: (_e, m) => void created.push(m.subject.split(".").pop()!) });
    await nc.flush();
    try {
      for (const id of ["no-such-incident", "0badc0de-0000-4000-8000-00000000dead"]) {
        const r = await api(`/api/incidents/${id}`, TOKENS.victor);
        assert.equal(r.status, 404);
        assert.match(r.headers.get("content-type") ?? "", /application\/json/);
        assert.equal((await r.json()).error.code, "not_found");
      }
      const c = await client(TOKENS.victor);
      c.send({ id: "rp", op: "replay", incident: "no-such-incident", speed: 0 });
      assert.equal((await c.waitFor("replay of an unknown incident", (m) => m.id === "rp")).code, "not_found");
      c.close();
      // A consumer made now is the marker: advisories arrive in order, so anything before it came from the requests.
      await jsm.consumers.add("VIGIL", { name: "h4-marker", ack_policy: AckPolicy.None, inactive_threshold: 5_000_000_000 });
      await waitUntil("the marker's advisory", async () => created.includes("h4-marker"), 10_000);
      assert.deepEqual(created, ["h4-marker"], "no consumer was created for the unknown ids");
      await jsm.consumers.delete("VIGIL", "h4-marker");
    } finally {
      sub.unsubscribe();
    }
  });

  it("runs at most replaysPerToken of 20 concurrent replays from one viewer token, refuses the rest, and its consumers are gone within 10 s", async () => {
    const baseline = await consumers();
    const incident = "0badc0de-0000-4000-8000-0000000000aa";
    const t0 = Date.now() - 60_000;
    // Four events a second apart: at speed 0.5 the pauses (capped at 2 s) keep each replay running ~6 s.
    const chain = [0, 1, 2, 3].map((i) => ev(DEVICE, "obs.worker.stable", { worker: "sensor", pid: 77, uptimeMs: i }, { incident, time: new Date(t0 + i * 1000).toISOString() }));
    for (const e of chain) put(e);
    await nc.flush();
    await waitUntil("the incident is readable", async () => (await api(`/api/incidents/${incident}`, TOKENS.victor)).status === 200, 10_000);

    const conns = await Promise.all([0, 1, 2, 3].map(() => client(TOKENS.replayer)));
    conns.forEach((c, k) => {
      for (let i = 0; i < 5; i++) c.send({ id: `rp-${k}-${i}`, op: "replay", incident, speed: 0.5 });
    });
    const answers = await Promise.all(conns.flatMap((c, k) => [0, 1, 2, 3, 4].map((i) => c.waitFor(`answer to rp-${k}-${i}`, (m) => m.id === `rp-${k}-${i}` && (m.type === "replay.started" || m.type === "error"), 15_000))));
    const started = answers.filter((m) => m.type === "replay.started");
    const refused = answers.filter((m) => m.type === "error");
    assert.equal(started.length, 2, `exactly replaysPerToken (2) run: ${JSON.stringify(answers.map((m) => m.code ?? m.type))}`);
    assert.equal(refused.length, 18);
    assert.ok(refused.every((m) => m.code === "limit" && /replaysPerToken/.test(m.message)), JSON.stringify(refused[0]));
    // Another token is not held up by this one.
    const other = await client(TOKENS.victor);
    other.send({ id: "mine", op: "replay", incident, speed: 0 });
    assert.equal((await other.waitFor("another token's replay", (m) => m.type === "replay.done" && m.replay === "mine")).sent, 4);
    for (const s of started) {
      const c = conns.find((x) => x.messages.includes(s))!;
      c.send({ id: `cancel-${s.id}`, op: "cancel", replay: s.replay });
      await c.waitFor("replay ended", (m) => m.type === "replay.done" && m.replay === s.replay);
    }
    // The slots are free again.
    conns[0]!.send({ id: "again", op: "replay", incident, speed: 0 });
    assert.equal((await conns[0]!.waitFor("a replay after the others ended", (m) => m.type === "replay.done" && m.replay === "again")).sent, 4);
    for (const c of [...conns, other]) c.close();
    await waitUntil(`the consumer count back to its baseline (${baseline})`, async () => (await consumers()) === baseline, 10_000);
  });

  it("pages /api/events: at most 10,000 per response, a cursor that walks 25,000 events once each, then a 429 past the read budget", async () => {
    const before = (await jsm.streams.info("VIGIL")).state.last_seq;
    const total = 25_000;
    for (let i = 0; i < total; i++) {
      put(ev(PAGE_DEVICE, "obs.worker.stable", { worker: "w", pid: i + 1, uptimeMs: i }));
      if (i % 1_000 === 999) await nc.flush();
    }
    await nc.flush();
    await waitUntil("all 25,000 stored", async () => (await jsm.streams.info("VIGIL")).state.last_seq >= before + total, 20_000);
    const baseline = await consumers();
    const filter = encodeURIComponent(`vigil.${PAGE_DEVICE}.>`);

    const pids: number[] = [];
    let next: number | null = null;
    let pages = 0;
    do {
      // Asking for more than a page gets a page.
      const r = await api(`/api/events?filter=${filter}&limit=50000${next !== null ? `&seq=${next}` : ""}`, TOKENS.pager);
      assert.equal(r.status, 200);
      const page = await r.json();
      assert.ok(page.events.length <= 10_000, `page ${pages}: ${page.events.length} events`);
      assert.equal(page.truncated, page.next !== null);
      if (page.next !== null) assert.equal(page.next, page.events.at(-1).seq + 1, "next: the sequence after the page's last event");
      pids.push(...page.events.map((e: any) => e.data.pid));
      next = page.next;
      pages++;
    } while (next !== null && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(pids, Array.from({ length: total }, (_, i) => i + 1), "every event once, in order");
    const small = await (await api(`/api/events?filter=${filter}&limit=7&seq=${before + 1}`, TOKENS.pager)).json();
    assert.deepEqual([small.events.length, small.next], [7, before + 8]);
    const tail = await (await api(`/api/events?filter=${filter}&seq=${before + total - 2}`, TOKENS.pager)).json();
    assert.deepEqual([tail.events.length, tail.next], [3, null], "the last page says there is no more");

    // The budget: 60,000 events a minute for this token; 10,000 a page.
    let status = 0;
    let n = 0;
    let refusal: Awaited<ReturnType<typeof api>> | undefined;
    while (n < 10) {
      const r = await api(`/api/events?filter=${filter}`, TOKENS.spender);
      n++;
      status = r.status;
      if (status === 429) {
        refusal = r;
        break;
      }
      assert.equal(status, 200);
      await r.arrayBuffer();
    }
    assert.equal(status, 429, "refused once the budget is spent");
    assert.ok(n >= 6 && n <= 8, `after about 60,000 events (${n} pages)`);
    assert.ok(Number(refusal!.headers.get("retry-after")) >= 1, "with Retry-After");
    const body = await refusal!.json();
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /readEventsPerMinute/);
    assert.equal((await api(`/api/events?filter=${filter}&limit=5`, TOKENS.pager)).status, 200, "other tokens are not refused");

    // Twenty at once from one token: at most readsPerToken run, the others get 429 at once.
    const burst = await Promise.all(Array.from({ length: 20 }, () => api(`/api/events?filter=${filter}`, TOKENS.victor).then(async (r) => (await r.arrayBuffer(), r.status))));
    assert.ok(burst.every((s) => s === 200 || s === 429), burst.join(","));
    assert.ok(burst.filter((s) => s === 429).length >= 1, `some refused: ${burst.join(",")}`);
    await waitUntil(`the consumer count back to its baseline (${baseline})`, async () => (await consumers()) === baseline, 10_000);
  });

  it("the page's CSP lets it connect to its own origin only", async () => {
    const csp = (await fetch(base + "/")).headers.get("content-security-policy") ?? "";
    assert.match(csp, /connect-src 'self';/);
    assert.doesNotMatch(csp, /ws:|wss:/);
  });
});
