/**
 * WebSocket fuzzing of the gateway's console (docs/console-protocol.md) with a raw client written over
 * a TCP socket, so it can send what a well-behaved library never would: binary and invalid UTF-8 frames,
 * oversized and fragmented garbage, reserved opcodes and bits, unmasked frames, bad close codes, and valid
 * JSON with wrong ops, ids and types. Each input is sent in lockstep and its answer checked against
 * what the protocol documents: an `{type:"error", code}` (connection stays open), an answer, or a close
 * with a given code.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { INHERITED_NAMES } from "./fuzz-http.js";
import { createRng, type Rng } from "./fuzz-rng.js";

type Msg = { kind: "text"; text: string } | { kind: "binary" } | { kind: "close"; code: number; reason: string } | { kind: "pong" } | { kind: "end" };

/** What an input should get back. */
export type Expect = { error: string[] } | { answer: string } | { close: number[] } | { pongFrame: true } | { none: true } | { http: number };

export interface WsInput {
  category: string;
  frames: Buffer[];
  expect: Expect;
}

/** Frame bytes as a client sends them (masked unless told otherwise). */
export function frame(rng: Rng, opcode: number, payload: Buffer, o: { fin?: boolean; rsv?: number; mask?: boolean; len64?: bigint } = {}): Buffer {
  const fin = o.fin ?? true;
  const mask = o.mask ?? true;
  const b0 = Buffer.from([(fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode]);
  const m = mask ? 0x80 : 0;
  const n = payload.length;
  let len: Buffer;
  if (o.len64 !== undefined) {
    len = Buffer.alloc(9);
    len[0] = m | 127;
    len.writeBigUInt64BE(o.len64, 1);
  } else if (n < 126) len = Buffer.from([m | n]);
  else if (n < 65536) {
    len = Buffer.alloc(3);
    len[0] = m | 126;
    len.writeUInt16BE(n, 1);
  } else {
    len = Buffer.alloc(9);
    len[0] = m | 127;
    len.writeBigUInt64BE(BigInt(n), 1);
  }
  if (!mask) return Buffer.concat([b0, len, payload]);
  const key = Buffer.from(rng.bytes(4));
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i]! ^ key[i % 4]!;
  return Buffer.concat([b0, len, key, body]);
}

/** A raw WebSocket connection: handshake, frames out, parsed frames in. */
export class RawWs {
  private buf = Buffer.alloc(0);
  private queue: Msg[] = [];
  private waiter: (() => void) | undefined;
  private frag: Buffer[] = [];
  ended = false;
  private constructor(private readonly socket: Socket) {}

  /** Upgrades; resolves with the socket, or with the HTTP status the upgrade was refused with. */
  static open(port: number, headers: Record<string, string>, path = "/ws"): Promise<RawWs | { status: number }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.subarray(0, end).toString("latin1"))?.[1] ?? 0);
        if (status !== 101) {
          socket.destroy();
          return resolve({ status });
        }
        const ws = new RawWs(socket);
        socket.on("data", (x: Buffer) => ws.onData(x));
        socket.on("close", () => ws.push({ kind: "end" }));
        ws.onData(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on("data", onData);
      socket.on("error", (err) => reject(err));
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
    }).then((r) => {
      if (r instanceof RawWs) r.socket.on("error", () => undefined);
      return r as RawWs | { status: number };
    });
  }

  private push(m: Msg): void {
    if (this.ended) return;
    if (m.kind === "end") this.ended = true;
    this.queue.push(m);
    this.waiter?.();
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = (this.buf[0]! & 0x80) !== 0;
      const op = this.buf[0]! & 0x0f;
      let n = this.buf[1]! & 0x7f;
      let off = 2;
      if (n === 126) {
        if (this.buf.length < 4) return;
        n = this.buf.readUInt16BE(2);
        off = 4;
      } else if (n === 127) {
        if (this.buf.length < 10) return;
        n = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + n) return;
      const payload = this.buf.subarray(off, off + n);
      this.buf = this.buf.subarray(off + n);
      if (op === 8) this.push({ kind: "close", code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString() });
      else if (op === 10) this.push({ kind: "pong" });
      else if (op === 9) continue;
      else {
        this.frag.push(Buffer.from(payload));
        if (!fin) continue;
        const all = Buffer.concat(this.frag);
        this.frag = [];
        this.push(op === 2 ? { kind: "binary" } : { kind: "text", text: all.toString() });
      }
    }
  }

  write(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /** The next message, or undefined after timeoutMs. */
  async next(timeoutMs: number): Promise<Msg | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const J = (v: unknown) => Buffer.from(JSON.stringify(v));

/** One input for an authenticated connection (`role` decides what a command gets). */
export function genAuthedInput(rng: Rng, role: "operator" | "viewer", tokens: { good: string }): WsInput {
  const id = rng.bool(0.8) ? `f${rng.int(0, 1e6)}` : rng.int(0, 1e6);
  const text = (v: unknown) => [frame(rng, 1, J(v))];
  const c = rng.weighted({
    garbage: 8,
    binary: 6,
    shape: 5,
    "bad-id": 6,
    version: 4,
    "op-type": 3,
    "unknown-op": 7,
    "bad-fields": 16,
    undeclared: 7,
    "not-found": 5,
    "replay-unknown": 0.3,
    "inherited-names": 4,
    reauth: 2,
    ping: 5,
    state: 2,
    "invalid-utf8": 3,
    oversized: 0.7,
    "fragmented-ok": 3,
    "fragment-orphan": 2,
    "fragment-interrupted": 1.5,
    "reserved-opcode": 2,
    rsv: 1.5,
    unmasked: 1.5,
    "control-too-long": 1,
    "control-fragmented": 1,
    "ping-frame": 2,
    "pong-frame": 1,
    "close-bad-code": 1,
    "close-normal": 1,
    "length-64bit": 0.5,
  });
  const inp = (frames: Buffer[], expect: Expect): WsInput => ({ category: c, frames, expect });
  switch (c) {
    case "garbage":
      return inp([frame(rng, 1, Buffer.from(rng.pick(["{", "not json ", "{'a':", "[1,", "\u0000"]) + rng.unicode(rng.int(0, 200))))], { error: ["bad_json", "bad_request"] });
    case "binary":
      return inp([frame(rng, 2, Buffer.from(rng.bytes(rng.int(0, 300))))], { error: ["bad_request"] });
    case "shape":
      return inp(text(rng.pick([42, [], "x", null, true, [{ id: 1, op: "ping" }]])), { error: ["bad_request"] });
    case "bad-id":
      return inp([frame(rng, 1, Buffer.from(rng.pick(['{"op":"ping"}', '{"id":"","op":"ping"}', `{"id":"${"x".repeat(65)}","op":"ping"}`, '{"id":null,"op":"ping"}', '{"id":true,"op":"ping"}', '{"id":{},"op":"ping"}', '{"id":1e400,"op":"ping"}', '{"id":[1],"op":"ping"}'])))], { error: ["bad_request"] });
    case "version":
      return inp(text({ v: rng.pick([2, 0, "1", null, 1.5, []]), id, op: "ping" }), { error: ["unsupported_version"] });
    case "op-type":
      return inp(text({ id, op: rng.pick([5, null, ["ping"], {}, true]) }), { error: ["bad_request"] });
    case "unknown-op":
      return inp(text({ id, op: rng.pick(["exec", "shell", "rm -rf /", "PING", "Subscribe", "", "__proto__", "constructor", "toString"]) + (rng.bool(0.3) ? rng.ascii(4) : "") }), { error: ["unknown_op"] });
    case "bad-fields": {
      const bad = rng.pick<Record<string, unknown>>([
        { op: "subscribe", filters: rng.pick(["vigil.>", [], Array(17).fill("vigil.>"), [5], ["foo.>"], ["vigil.>.x"], ["vigil.a b"], ["vigil." + "a".repeat(300)], [null]]) },
        { op: "subscribe", from: rng.pick(["yesterday", { seq: 0 }, { seq: -1 }, { seq: 1.5 }, { seq: "1" }, { time: "never" }, 5, [], {}]) },
        { op: "command", action: rng.pick(["reboot", "exec", "", 5, null, "RESTART"]), worker: "ghost" },
        { op: "command", action: "restart", worker: rng.pick(["rm -rf /", "../../bin/sh", "", 5, null, "a".repeat(65), "a.b", "$(id)"]) },
        { op: "command", action: "kill", worker: "ghost", reason: rng.pick([5, "r".repeat(1025), {}, null]) },
        { op: "replay", incident: rng.pick([5, "", null, "i".repeat(129)]) },
        { op: "replay", incident: "x", speed: rng.pick([-1, 0.05, 1001, "1", null, 1e400]) },
        { op: "unsubscribe", sub: rng.pick([5, "", null, "s".repeat(65)]) },
        { op: "cancel", replay: rng.pick([5, "", null, "r".repeat(65)]) },
        { op: "auth" },
      ]);
      // An authenticated `auth` without a token is still a bad request (the token is checked first).
      return inp(text({ id, ...bad }), { error: ["bad_request"] });
    }
    case "undeclared":
      return inp(text({ id, op: "command", action: rng.pick(["restart", "pause", "resume", "kill", "start", "stop"]), worker: `ghost-${rng.int(0, 999)}` }), { error: [role === "operator" ? "not_found" : "forbidden"] });
    case "not-found":
      return inp(text(rng.bool() ? { id, op: "unsubscribe", sub: `s${rng.int(0, 99)}` } : { id, op: "cancel", replay: `r${rng.int(0, 99)}` }), { error: ["not_found"] });
    case "replay-unknown":
      return inp(text({ id, op: "replay", incident: `no-such-${rng.int(0, 1e6)}`, speed: 0 }), { error: ["not_found"] });
    case "inherited-names": {
      // Ids every JavaScript object inherits: unknown ids like any other, never an internal error.
      const name = rng.pick(INHERITED_NAMES);
      const k = rng.int(0, 3);
      if (k === 0) return inp(text({ id, op: "replay", incident: name, speed: rng.pick([0, 1]) }), { error: ["not_found"] });
      if (k === 1) return inp(text({ id, op: "command", action: rng.pick(["restart", "pause", "resume", "kill", "start", "stop"]), worker: name }), { error: [role === "operator" ? "not_found" : "forbidden"] });
      return inp(text(k === 2 ? { id, op: "cancel", replay: name } : { id, op: "unsubscribe", sub: name }), { error: ["not_found"] });
    }
    case "reauth":
      return inp(text({ id, op: "auth", token: rng.bool() ? tokens.good : rng.ascii(20) }), { error: ["bad_request"] });
    case "ping":
      return inp(text({ id, op: "ping", junk: rng.json(2) }), { answer: "pong" });
    case "state":
      return inp(text({ id, op: "state" }), { answer: "state" });
    case "invalid-utf8":
      return inp([frame(rng, 1, Buffer.concat([Buffer.from('{"id":"u","op":"ping","x":"'), Buffer.from(rng.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]])), Buffer.from('"}')]))], { close: [1007] });
    case "oversized":
      return inp([frame(rng, rng.pick([1, 2]), Buffer.alloc(rng.int(65_537, 200_000), 0x61))], { close: [1009] });
    case "fragmented-ok": {
      const whole = Buffer.from(JSON.stringify({ id, op: "ping" }));
      const cut = rng.int(1, whole.length - 1);
      return inp([frame(rng, 1, whole.subarray(0, cut), { fin: false }), frame(rng, 0, whole.subarray(cut))], { answer: "pong" });
    }
    case "fragment-orphan":
      return inp([frame(rng, 0, Buffer.from(rng.bytes(rng.int(0, 50))))], { close: [1002] });
    case "fragment-interrupted":
      return inp([frame(rng, 1, Buffer.from('{"id":'), { fin: false }), frame(rng, 1, J({ id, op: "ping" }))], { close: [1002] });
    case "reserved-opcode":
      return inp([frame(rng, rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), Buffer.from(rng.bytes(rng.int(0, 20))))], { close: [1002] });
    case "rsv":
      return inp([frame(rng, 1, J({ id, op: "ping" }), { rsv: rng.int(1, 7) })], { close: [1002] });
    case "unmasked":
      return inp([frame(rng, 1, J({ id, op: "ping" }), { mask: false })], { close: [1002] });
    case "control-too-long":
      return inp([frame(rng, 9, Buffer.alloc(rng.int(126, 400), 1))], { close: [1002] });
    case "control-fragmented":
      return inp([frame(rng, 9, Buffer.from("p"), { fin: false })], { close: [1002] });
    case "ping-frame":
      return inp([frame(rng, 9, Buffer.from(rng.bytes(rng.int(0, 125))))], { pongFrame: true });
    case "pong-frame":
      return inp([frame(rng, 10, Buffer.from(rng.bytes(rng.int(0, 30))))], { none: true });
    case "close-bad-code": {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(rng.pick([0, 999, 1004, 1005, 1006, 1016, 2000, 2999, 5000]));
      return inp([frame(rng, 8, p)], { close: [1002] });
    }
    case "close-normal": {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(rng.pick([1000, 1001, 3000, 4000]));
      return inp([frame(rng, 8, p)], { close: [p.readUInt16BE(0)] });
    }
    default:
      return inp([frame(rng, 1, Buffer.alloc(0), { len64: rng.pick([2n ** 63n, 2n ** 53n, 2n ** 40n]) })], { close: [1009] });
  }
}

/** The first frame of a connection that did not authenticate with a header. */
export function genFirstFrame(rng: Rng, goodToken: string): WsInput {
  const c = rng.weighted({ "auth-ok": 5, "auth-wrong": 3, "auth-missing": 1, "other-op": 2, garbage: 2, binary: 1 });
  const inp = (frames: Buffer[], expect: Expect): WsInput => ({ category: `first:${c}`, frames, expect });
  switch (c) {
    case "auth-ok":
      return inp([frame(rng, 1, J({ id: "a", op: "auth", token: goodToken }))], { answer: "authenticated" });
    case "auth-wrong":
      return inp([frame(rng, 1, J({ id: "a", op: "auth", token: rng.pick([rng.ascii(rng.int(1, 80)), goodToken + "x", goodToken.slice(1), "x".repeat(600)]) }))], { close: [4401] });
    case "auth-missing":
      return inp([frame(rng, 1, J({ id: "a", op: "auth", token: rng.pick([5, "", null]) }))], { close: [4401] });
    case "other-op":
      return inp([frame(rng, 1, J({ id: "a", op: rng.pick(["ping", "state", "subscribe", "command"]), action: "restart", worker: "ghost" }))], { close: [4401] });
    case "garbage":
      return inp([frame(rng, 1, Buffer.from("{" + rng.ascii(rng.int(0, 50))))], { close: [4401] });
    default:
      // docs/console-protocol.md: "Any other first frame … → the socket is closed with code 4401".
      return inp([frame(rng, 2, Buffer.from(rng.bytes(rng.int(1, 50))))], { close: [4401] });
  }
}

export interface WsResult {
  inputs: number;
  frames: number;
  connections: number;
  errors: Record<string, number>;
  answers: Record<string, number>;
  closes: Record<string, number>;
  upgradesRefused: Record<string, number>;
  categories: Record<string, number>;
  violations: number;
  violationExamples: string[];
  violationsByCategory: Record<string, number>;
  /** Known differences from the documented behaviour, counted (and reported as bugs) rather than failed on. */
  deviations: Record<string, number>;
}

function matchesExpect(e: Expect, m: Msg | undefined): boolean {
  if ("none" in e) return m === undefined;
  if (!m) return false;
  if ("pongFrame" in e) return m.kind === "pong";
  if ("close" in e) return m.kind === "close" && e.close.includes(m.code);
  if (m.kind !== "text") return false;
  const j = JSON.parse(m.text) as { type: string; code?: string };
  if ("error" in e) return j.type === "error" && e.error.includes(j.code ?? "");
  if ("answer" in e) return j.type === e.answer;
  return false;
}

const describeMsg = (m: Msg | undefined) => (m === undefined ? "nothing" : m.kind === "text" ? m.text.slice(0, 120) : m.kind === "close" ? `close ${m.code} ${m.reason}` : m.kind);

/**
 * Runs `count` inputs over `parallel` connections (operator, viewer and frame-authenticated ones;
 * a connection closed by an input is replaced), and a few refused upgrades (bad token, foreign origin, wrong path).
 */
export async function fuzzWebSocket(o: { port: number; count: number; parallel: number; rng: Rng; tokens: { operator: string; viewer: string } }): Promise<WsResult> {
  const r: WsResult = { inputs: 0, frames: 0, connections: 0, errors: {}, answers: {}, closes: {}, upgradesRefused: {}, categories: {}, violations: 0, violationExamples: [], violationsByCategory: {}, deviations: {} };
  const inc = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  const violation = (cat: string, msg: string) => {
    r.violations++;
    inc(r.violationsByCategory, cat);
    if (r.violationExamples.length < 15) r.violationExamples.push(`${cat}: ${msg}`);
  };
  async function worker(w: number): Promise<void> {
    // One generator and quota per connection worker: the inputs do not depend on timing (reproducible by seed).
    const rng = createRng((o.rng.seed + 7919 * (w + 1)) >>> 0);
    let left = Math.floor(o.count / o.parallel) + (w < o.count % o.parallel ? 1 : 0);
    const take = () => left-- > 0;
    while (left > 0) {
      // A refused upgrade now and then: it counts as an input too.
      if (rng.bool(0.01) && take()) {
        const kind = rng.pick(["bad-token", "origin", "path", "bad-scheme"] as const);
        const headers: Record<string, string> = kind === "bad-token" ? { Authorization: `Bearer ${rng.ascii(30)}` } : kind === "origin" ? { Origin: "https://evil.example" } : kind === "bad-scheme" ? { Authorization: `Basic ${rng.ascii(10)}` } : {};
        const want = kind === "bad-token" || kind === "bad-scheme" ? 401 : kind === "origin" ? 403 : 404;
        const res = await RawWs.open(o.port, headers, kind === "path" ? rng.pick(["/", "/wss", "/ws/../etc", "/api/state"]) : "/ws");
        r.inputs++;
        inc(r.categories, `upgrade:${kind}`);
        if (res instanceof RawWs) {
          res.destroy();
          violation(`upgrade:${kind}`, "upgrade accepted");
        } else {
          inc(r.upgradesRefused, String(res.status));
          if (res.status !== want) violation(`upgrade:${kind}`, `status ${res.status}, expected ${want}`);
        }
        continue;
      }
      const how = rng.weighted({ operator: 5, viewer: 3, frame: 2 });
      const role = how === "viewer" ? "viewer" : "operator";
      const ws = await RawWs.open(o.port, how === "frame" ? {} : { Authorization: `Bearer ${how === "viewer" ? o.tokens.viewer : o.tokens.operator}` });
      if (!(ws instanceof RawWs)) throw new Error(`worker ${w}: upgrade refused with ${ws.status}`);
      r.connections++;
      const hello = await ws.next(5_000);
      if (!hello || hello.kind !== "text" || !hello.text.includes('"hello"')) violation("hello", `no hello: ${describeMsg(hello)}`);
      let open = true;
      if (how === "frame" && take()) {
        const first = genFirstFrame(rng, o.tokens.operator);
        open = await run(ws, first);
        // Anything but a good auth leaves the connection unauthenticated (or closed): start a new one.
        if (first.category !== "first:auth-ok") open = false;
      }
      while (open && take()) open = await run(ws, genAuthedInput(rng, role, { good: role === "viewer" ? o.tokens.viewer : o.tokens.operator }));
      ws.destroy();
    }
  }

  async function run(ws: RawWs, input: WsInput): Promise<boolean> {
    r.inputs++;
    r.frames += input.frames.length;
    inc(r.categories, input.category);
    for (const f of input.frames) ws.write(f);
    const m = "none" in input.expect ? await ws.next(30) : await ws.next(10_000);
    if (m?.kind === "text") {
      const j = JSON.parse(m.text) as { type: string; code?: string };
      if (j.type === "error") inc(r.errors, j.code ?? "?");
      else inc(r.answers, j.type);
    } else if (m?.kind === "close") inc(r.closes, String(m.code));
    else if (m?.kind === "pong") inc(r.answers, "pong-frame");
    if (!matchesExpect(input.expect, m)) violation(input.category, `expected ${JSON.stringify(input.expect)}, got ${describeMsg(m)}`);
    if (m?.kind === "close" || m?.kind === "end" || ws.ended) return false;
    return true;
  }

  await Promise.all(Array.from({ length: o.parallel }, (_, w) => worker(w)));
  return r;
}
