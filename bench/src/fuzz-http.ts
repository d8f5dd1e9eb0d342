/**
 * HTTP fuzzing of the gateway's API (docs/console-protocol.md): garbage and huge bodies, wrong content
 * types, wrong shapes and fields, unknown paths and methods, bad tokens and origins, bad query
 * parameters, and a few malformed requests written raw to the socket. A bad request must get a 4xx with
 * `{"error": {"code", "message"}}` and the documented status; nothing may get a 5xx.
 */
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { createRng, type Rng } from "./fuzz-rng.js";

/** Names every JavaScript object inherits: as ids they must be unknown (404), never a 500. */
export const INHERITED_NAMES = ["__proto__", "constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__"];

export interface HttpInput {
  category: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Acceptable statuses; a 4xx must also carry a JSON error body. */
  expect: number[];
  /** Written as-is to a fresh socket (malformed HTTP). */
  raw?: Buffer;
  /** Sent on a connection of its own, closed after it (bodies the gateway answers without reading: see the probes). */
  fresh?: boolean;
  /** Sent with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

export function genHttpInput(rng: Rng, t: { operator: string; viewer: string }): HttpInput {
  const op = { Authorization: `Bearer ${t.operator}` };
  const viewer = { Authorization: `Bearer ${t.viewer}` };
  const jsonCt = { "Content-Type": rng.pick(["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "", "application/json; charset=latin1"]) };
  const body = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));
  const c = rng.weighted({
    "cmd-garbage": 12,
    "cmd-shape": 8,
    "cmd-fields": 14,
    "cmd-undeclared": 8,
    "cmd-viewer": 4,
    "cmd-huge": 1.5,
    chunked: 2,
    "cmd-method": 4,
    "cmd-empty": 3,
    "unknown-path": 8,
    "unknown-method": 6,
    "bad-token": 10,
    origin: 3,
    "events-params": 6,
    "incident-unknown": 3,
    "inherited-names": 4,
    "events-paging": 3,
    "long-url": 1,
    ok: 4,
    raw: 1.5,
  });
  const cmd = (b: Buffer, headers: Record<string, string> = op, expect = [400]): HttpInput => ({ category: c, method: "POST", path: "/api/commands", headers: { ...headers, ...jsonCt }, body: b, expect });
  switch (c) {
    case "cmd-garbage":
      return cmd(rng.bool() ? Buffer.from(rng.bytes(rng.int(1, 400))) : body(rng.pick(["{", "{action:restart}", "action=restart&worker=x", "<cmd/>", "[1,2", '{"action":"restart",}', "\u0000"]) + rng.ascii(rng.int(0, 40))));
    case "cmd-shape":
      return cmd(body(rng.pick([42, [], "x", null, true, [{ action: "restart", worker: "ghost" }]])));
    case "cmd-fields":
      return cmd(
        body(
          rng.pick<Record<string, unknown>>([
            { action: rng.pick(["reboot", "exec", "", 5, null, "RESTART"]), worker: "ghost" },
            { action: "restart", worker: rng.pick(["rm -rf /", "../../bin/sh", "", 5, null, "a".repeat(65), "$(id)", "a.b"]) },
            { action: "kill", worker: "ghost", reason: rng.pick([5, "r".repeat(1025), {}, null]) },
            { worker: "ghost" },
            { action: "restart" },
            { action: ["restart"], worker: ["ghost"] },
          ]),
        ),
      );
    case "cmd-undeclared":
      return cmd(body({ action: rng.pick(["restart", "pause", "resume", "kill", "start", "stop"]), worker: `ghost-${rng.int(0, 999)}`, ...(rng.bool() ? { wait: rng.pick([true, "yes", 1]) } : {}) }), op, [404]);
    case "cmd-viewer":
      return cmd(body({ action: "restart", worker: `ghost-${rng.int(0, 9)}` }), viewer, [403]);
    case "cmd-huge":
      return { ...cmd(Buffer.alloc(rng.int(65_537, 1_500_000), rng.pick([0x20, 0x61, 0x7b])), op, [413]), fresh: true };
    case "chunked": {
      const b = rng.pick([body({ action: "restart", worker: `ghost-${rng.int(0, 9)}` }), Buffer.from(rng.bytes(rng.int(1, 200))), Buffer.alloc(rng.int(65_537, 300_000), 0x61)]);
      const expect = b.length > 65_536 ? [413] : [400, 404];
      const badToken = rng.bool(0.3);
      return { ...cmd(b, badToken ? { Authorization: "Bearer nope" } : op, badToken ? [401] : expect), fresh: true, chunked: true };
    }
    case "cmd-method":
      return { category: c, method: rng.pick(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]), path: "/api/commands", headers: op, expect: [400] };
    case "cmd-empty":
      return cmd(Buffer.alloc(0));
    case "unknown-path":
      return { category: c, method: rng.pick(["GET", "POST"]), path: rng.pick(["/api/", "/api/x", "/api/state/x", "/api/commands/1", "/../../etc/passwd", "/api/%2e%2e/%2e%2e/etc/passwd", "/api/incidents/", "/api/incidents/a/b", "/admin", "/.env", "/index.php", "/api/\u00e9"]).replace("é", "%C3%A9"), headers: op, expect: [404] };
    case "unknown-method":
      return { category: c, method: rng.pick(["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]), path: rng.pick(["/api/state", "/api/incidents", "/api/events", "/metrics"]), headers: op, body: body(rng.json(2)), expect: [404] };
    case "bad-token": {
      const auth = rng.pick([undefined, "Bearer", "Bearer ", `Bearer ${rng.ascii(40).replace(/\s/g, "x")}`, `Basic ${Buffer.from("a:b").toString("base64")}`, `bearer ${t.operator}x`, `Bearer ${"x".repeat(600)}`, `Token ${t.operator}`]);
      return { category: c, method: rng.pick(["GET", "POST"]), path: rng.pick(["/api/state", "/api/commands", "/metrics", "/api/events"]), headers: auth === undefined ? {} : { Authorization: auth }, body: body({ action: "restart", worker: "sensor" }), expect: [401] };
    }
    case "origin":
      return { category: c, method: "POST", path: "/api/commands", headers: { ...op, Origin: rng.pick(["https://evil.example", "null", "http://127.0.0.1.evil.example", "file://"]) }, body: body({ action: "restart", worker: "ghost" }), expect: [403] };
    case "events-params":
      return { category: c, method: "GET", path: `/api/events?${rng.pick(["seq=abc", "seq=0", "seq=-1", "seq=1.5", "since=never", "filter=foo.>", "filter=vigil.a%20b", "limit=0", "limit=-5", "until=x", "seq=1&until=0", `filter=vigil.${"a".repeat(300)}`])}`, headers: op, expect: [400] };
    case "incident-unknown":
      return { category: c, method: "GET", path: `/api/incidents/${rng.pick([`none-${rng.int(0, 1e6)}`, "%00", "a%2Fb", "x".repeat(129)])}`, headers: op, expect: [404] };
    case "inherited-names": {
      const name = rng.pick(INHERITED_NAMES);
      if (rng.bool()) return { category: c, method: "GET", path: `/api/incidents/${name}`, headers: rng.bool() ? op : viewer, expect: [404] };
      return { ...cmd(body({ action: rng.pick(["restart", "pause", "resume", "kill", "start", "stop"]), worker: name }), op, [404]), category: c };
    }
    case "events-paging":
      // Pages are capped at 10,000 (a larger limit is taken as 10,000); the per-token read budget may answer 429.
      return { category: c, method: "GET", path: `/api/events?limit=${rng.pick([1, 10_000, 10_001, 200_000, 1e9])}${rng.bool() ? `&seq=${rng.int(1, 1e6)}` : ""}${rng.bool() ? `&until=${rng.int(1, 1e6)}` : ""}`, headers: rng.bool() ? op : viewer, expect: [200, 429] };
    case "long-url":
      return { category: c, method: "GET", path: `/api/${"a".repeat(rng.int(1_000, 12_000))}`, headers: op, expect: [404] };
    case "ok":
      return rng.pick<HttpInput>([
        { category: "ok", method: "GET", path: "/healthz", headers: {}, expect: [200] },
        { category: "ok", method: "GET", path: "/api/state", headers: viewer, expect: [200] },
        { category: "ok", method: "GET", path: "/api/incidents", headers: op, expect: [200] },
      ]);
    default: {
      const raw = rng.pick([
        "GARBAGE\r\n\r\n",
        `GET /api/state HTTP/9.9\r\nHost: x\r\n\r\n`,
        `POST /api/commands HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}`,
        `POST /api/commands HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        `GET /api/state HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`,
        `GET /api/state HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello`,
      ]);
      return { category: c, method: "RAW", path: raw.split("\r\n")[0]!, headers: {}, raw: Buffer.from(raw), expect: [400, 401] };
    }
  }
}

export interface HttpResult {
  inputs: number;
  statusCounts: Record<string, number>;
  jsonErrors: number;
  categories: Record<string, number>;
  violations: number;
  violationsByCategory: Record<string, number>;
  violationExamples: string[];
  serverErrors: number;
  /** Known differences from the documented behaviour, counted (and reported as bugs) rather than failed on. */
  deviations: Record<string, number>;
  /** Keep-alive probes: does a connection stay usable after a request the gateway answers without reading its body? */
  keepAliveProbes: Record<string, string>;
}

function send(port: number, agent: Agent, i: HttpInput): Promise<{ status: number; body: string; contentType: string }> {
  if (i.raw) {
    return new Promise((resolve) => {
      const s = connect(port, "127.0.0.1");
      let out = "";
      s.on("data", (d) => (out += d.toString("latin1")));
      s.on("error", () => undefined);
      s.on("close", () => {
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1] ?? 0);
        const sep = out.indexOf("\r\n\r\n");
        const ct = /content-type: ([^\r\n]*)/i.exec(out)?.[1] ?? "";
        resolve({ status, body: sep >= 0 ? out.slice(sep + 4) : "", contentType: ct });
      });
      s.write(i.raw!);
      setTimeout(() => s.end(), 300);
    });
  }
  return new Promise((resolve) => {
    const headers = { ...i.headers, ...(i.body && !i.chunked ? { "Content-Length": String(i.body.length) } : {}), ...(i.fresh ? { Connection: "close" } : {}) };
    const req = request({ host: "127.0.0.1", port, method: i.method, path: i.path, headers, agent: i.fresh ? false : agent }, (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b, contentType: String(res.headers["content-type"] ?? "") }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, body: b, contentType: "" }));
    });
    req.on("error", (err) => resolve({ status: 0, body: `${(err as NodeJS.ErrnoException).code ?? ""} ${(err as Error).message}`, contentType: "" }));
    if (i.body && i.chunked) {
      // Two writes: a chunked body, as a streaming client sends it.
      req.write(i.body.subarray(0, 1));
      req.end(i.body.subarray(1));
    } else if (i.body) req.end(i.body);
    else req.end();
  });
}

/**
 * Sends `first` and then a plain GET /healthz on the same connection: "ok" when the second is answered,
 * "closed" when the gateway closed the connection cleanly (Connection: close), else what went wrong.
 */
function keepAliveProbe(port: number, first: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let out = "";
    const done = (v: string) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(`the second request got no answer in 8 s (first answered: ${/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? "no"})`), 8_000);
    s.on("data", (d) => {
      out += d.toString("latin1");
      const answers = out.match(/HTTP\/1\.1 \d+/g) ?? [];
      if (answers.length >= 2) done(`ok (${answers.join(", ")})`);
    });
    s.on("error", (err) => done(`${(err as NodeJS.ErrnoException).code} after ${(out.match(/HTTP\/1\.1 \d+/g) ?? []).join(", ") || "nothing"}`));
    s.on("close", () => done(/connection: close/i.test(out) ? `closed by the gateway after ${(out.match(/HTTP\/1\.1 \d+/g) ?? []).join(", ")} (Connection: close)` : `closed without Connection: close after ${(out.match(/HTTP\/1\.1 \d+/g) ?? []).join(", ") || "nothing"}`));
    s.write(first);
    setTimeout(() => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
  });
}

export async function fuzzHttp(o: { port: number; count: number; parallel: number; rng: Rng; tokens: { operator: string; viewer: string } }): Promise<HttpResult> {
  const r: HttpResult = { inputs: 0, statusCounts: {}, jsonErrors: 0, categories: {}, violations: 0, violationsByCategory: {}, violationExamples: [], serverErrors: 0, deviations: {}, keepAliveProbes: {} };
  const inc = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  const agent = new Agent({ keepAlive: true, maxSockets: o.parallel });
  await Promise.all(
    Array.from({ length: o.parallel }, async (_, w) => {
      // One generator and quota per worker: the inputs do not depend on timing (reproducible by seed).
      const rng = createRng((o.rng.seed + 104729 * (w + 1)) >>> 0);
      let left = Math.floor(o.count / o.parallel) + (w < o.count % o.parallel ? 1 : 0);
      while (left-- > 0) {
        const i = genHttpInput(rng, o.tokens);
        r.inputs++;
        inc(r.categories, i.category);
        const res = await send(o.port, agent, i);
        inc(r.statusCounts, String(res.status));
        if (res.status >= 500) r.serverErrors++;
        let problem: string | undefined;
        if (!i.expect.includes(res.status)) problem = `status ${res.status}, expected ${i.expect.join("|")}: ${res.body.slice(0, 100)}`;
        else if (res.status >= 400) {
          try {
            const j = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } };
            if (typeof j.error?.code !== "string" || typeof j.error.message !== "string") problem = `no {error:{code,message}} in ${res.body.slice(0, 100)}`;
            else r.jsonErrors++;
          } catch {
            // Counted, not failed on: malformed HTTP is answered by the gateway's clientError handler, outside its router.
            if (i.raw) inc(r.deviations, `malformed HTTP answered ${res.status} without a JSON error`);
            else problem = `${res.status} without a JSON body (${res.contentType || "no content-type"}): ${JSON.stringify(res.body.slice(0, 60))}`;
          }
        }
        if (problem) {
          r.violations++;
          inc(r.violationsByCategory, i.category);
          if (r.violationExamples.length < 15) r.violationExamples.push(`${i.category} ${i.method} ${i.path.slice(0, 60)}: ${problem}`);
        }
      }
    }),
  );
  agent.destroy();
  r.keepAliveProbes = {
    "after a 413 (body over maxFrameBytes, Content-Length)": await keepAliveProbe(o.port, `POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${o.tokens.operator}\r\nContent-Length: 300000\r\n\r\n${"a".repeat(300_000)}`),
    "after a 401 to a chunked body": await keepAliveProbe(o.port, `POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`),
    "after a 401 to a GET with a chunked body": await keepAliveProbe(o.port, `GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nTransfer-Encoding: chunked\r\n\r\n26\r\n${"b".repeat(38)}\r\n0\r\n\r\n`),
    "after a 401 to a Content-Length body": await keepAliveProbe(o.port, `POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nContent-Length: 5\r\n\r\nhello`),
  };
  return r;
}
