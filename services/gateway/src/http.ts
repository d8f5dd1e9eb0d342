import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { totalmem } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "@vigil/events";
import { authenticate, bearerToken, originAllowed, type Principal } from "./auth.js";
import { PAGE_MAX_EVENTS, type Gateway } from "./gateway.js";
import { knownLogs, parseLogQuery, resolveLog } from "./logs.js";
import { filesystemBytes, renderMetrics } from "./metrics.js";
import { consoleEvent } from "./views.js";
import { COMMAND_ACTIONS, validFilter, type CommandAction, type ErrorCode } from "./protocol.js";

/** The web page: plain files beside dist/, no build step. */
export const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));
const STATIC: Record<string, string> = { "/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/style.css": "style.css" };
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

const STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  bad_request: 400,
  unknown_op: 400,
  unsupported_version: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
  limit: 429,
  internal: 500,
};

function securityHeaders(res: ServerResponse): void {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.setHeader("Cache-Control", "no-store");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Retry-After in whole seconds (at least 1) for a refusal that says how long to wait. */
const retryAfter = (ms: number | undefined): Record<string, string> => (ms ? { "Retry-After": String(Math.max(1, Math.ceil(ms / 1000))) } : {});

function fail(res: ServerResponse, code: ErrorCode, message: string, extra: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  json(res, STATUS[code], { error: { code, message } });
}

class BodyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** How long the rest of an oversized body is read and thrown away before the connection is cut. */
const DRAIN_MS = 5_000;

/**
 * Reads the rest of a body that will not be used and throws it away; resolves when the client has
 * sent it all (the answer then reaches a client that is still uploading, instead of a reset that
 * fails its writes before it reads anything), or cuts the connection after DRAIN_MS.
 */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.removeAllListeners("data");
    const cut = setTimeout(() => req.destroy(), DRAIN_MS);
    cut.unref();
    const done = () => (clearTimeout(cut), resolve());
    req.once("end", done);
    req.once("close", done);
    req.resume();
  });
}

async function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const tooLarge = () => new BodyError("limit", `request body larger than ${max} bytes`, 413);
  if (Number(req.headers["content-length"]) > max) {
    await drain(req);
    throw tooLarge();
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= max) return void chunks.push(c);
      chunks.length = 0;
      void drain(req).then(() => reject(tooLarge()));
    });
    req.once("error", reject);
    req.once("end", () => {
      if (size > max) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(new BodyError("bad_json", `body is not JSON: ${(err as Error).message}`));
      }
    });
  });
}

/** `GET /api/logs/<name>?lines=N&since=10m`: `<name>` is taken as it is (no decoding), so it is a plain name or not found. */
async function serveLogs(res: ServerResponse, gw: Gateway, who: Principal, name: string, q: URLSearchParams): Promise<void> {
  if (!resolveLog(gw.config, name)) return fail(res, "not_found", `no log "${name.slice(0, 64)}": not a declared worker or a Vigil service (known: ${knownLogs(gw.config).join(", ")})`);
  const parsed = parseLogQuery(q.get("lines"), q.get("since"));
  if (!parsed.ok) return fail(res, "bad_request", parsed.message);
  const r = await gw.readLogs(who, name, parsed.query);
  if (!r.ok) return fail(res, r.code, r.message, retryAfter("retryAfterMs" in r ? r.retryAfterMs : undefined));
  return json(res, 200, { name: r.name, kind: r.kind, lines: r.lines, truncated: r.truncated });
}

/** The HTTP API (documented in docs/console-protocol.md): JSON, bearer tokens, errors as {error:{code,message}}. */
export function createHttpHandler(gw: Gateway, log: Logger) {
  const cfg = gw.config;

  function principalOf(req: IncomingMessage): Principal | undefined {
    return authenticate(bearerToken(req.headers.authorization), gw.tokens);
  }

  async function serveStatic(res: ServerResponse, file: string): Promise<void> {
    try {
      const body = await readFile(join(PUBLIC_DIR, file));
      res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": body.length });
      res.end(body);
    } catch {
      fail(res, "not_found", `${file} is missing from ${PUBLIC_DIR}`);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res);
    const url = new URL(req.url ?? "/", "http://gateway.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (path === "/healthz") {
      const ok = !gw.nc.isClosed();
      return json(res, ok ? 200 : 503, { ok, device: cfg.device, clients: gw.clients.size });
    }
    if (method === "GET" && Object.hasOwn(STATIC, path)) return serveStatic(res, STATIC[path]!);
    if (path !== "/metrics" && !path.startsWith("/api/")) return fail(res, "not_found", `no ${path} here`);

    if (!originAllowed(req.headers.origin, req.headers.host, cfg.gateway.allowedOrigins)) {
      return fail(res, "forbidden", `origin ${req.headers.origin} is not allowed (gateway.allowedOrigins)`);
    }
    const who = principalOf(req);
    if (!who) {
      return fail(res, "unauthorized", req.headers.authorization ? "the token is not valid" : "send a token: Authorization: Bearer <token>", { "WWW-Authenticate": 'Bearer realm="vigil"' });
    }

    if (path === "/metrics" && method === "GET") {
      const [consumers, stream] = await Promise.all([gw.hub.consumerLag().catch(() => []), gw.hub.streamInfo()]);
      const subscriptions = gw.subscriptions.n;
      const filesystems = filesystemBytes(gw.hub.counters.sample?.disks.map((d) => d.mount) ?? []);
      const text = renderMetrics({ device: cfg.device, counters: gw.hub.counters, consumers, state: gw.hub.snapshot()?.state, ...(stream ? { stream } : {}), clients: gw.clients.size, subscriptions, droppedEvents: gw.dropped.n, filesystems, memoryTotalBytes: totalmem() });
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      return void res.end(text);
    }
    if (path === "/api/state" && method === "GET") return json(res, 200, { ...gw.stateView(), you: who });
    if (path === "/api/incidents" && method === "GET") return json(res, 200, { incidents: gw.stateView().incidents });
    const inc = /^\/api\/incidents\/([A-Za-z0-9_-]{1,128})$/.exec(path);
    if (inc && method === "GET") {
      const r = await gw.incidentEvents(who, inc[1]!);
      if (!r.ok) return fail(res, r.code, r.message, retryAfter(r.retryAfterMs));
      if (r.events.length === 0 && !gw.incident(inc[1]!)) return fail(res, "not_found", `no incident ${inc[1]}`);
      return json(res, 200, { incident: r.incident, events: r.events.map(consoleEvent) });
    }
    const ack = /^\/api\/incidents\/([A-Za-z0-9_-]{1,128})\/ack$/.exec(path);
    if (ack) {
      if (method !== "POST") return fail(res, "bad_request", "POST {reason?} to acknowledge the incident", { Allow: "POST" });
      const body = await readJsonBody(req, cfg.gateway.maxFrameBytes);
      const reason = body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>).reason : undefined;
      if (reason !== undefined && (typeof reason !== "string" || reason.length > 1024)) return fail(res, "bad_request", "reason: a string of at most 1024 characters");
      const r = await gw.ackIncident(who, ack[1]!, reason as string | undefined);
      if (!r.ok) return fail(res, r.code, r.message, retryAfter(r.retryAfterMs));
      return json(res, 202, { command: r.command });
    }
    const logsOf = /^\/api\/logs\/(.+)$/.exec(path);
    if (logsOf && method === "GET") return serveLogs(res, gw, who, logsOf[1]!, url.searchParams);
    if (path === "/api/events" && method === "GET") {
      const q = url.searchParams;
      const filter = q.get("filter") ?? `vigil.${cfg.device}.>`;
      if (!validFilter(filter)) return fail(res, "bad_request", `filter "${filter.slice(0, 80)}" is not a subject filter under vigil.`);
      const seq = q.get("seq");
      const since = q.get("since");
      const num = (v: string | null, what: string, min: number): number | undefined => {
        if (v === null) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < min) throw new BodyError("bad_request", `${what}: a whole number ≥ ${min}`);
        return n;
      };
      if (since !== null && Number.isNaN(Date.parse(since))) return fail(res, "bad_request", "since: an ISO date-time");
      const from = seq !== null ? { seq: num(seq, "seq", 1)! } : since !== null ? { time: new Date(Date.parse(since)) } : ("all" as const);
      const untilSeq = num(q.get("until"), "until", 1);
      // Pages of at most PAGE_MAX_EVENTS; `next` is the `seq` of the next page (null: nothing more up to `until` or the stream's end).
      const limit = Math.min(num(q.get("limit"), "limit", 1) ?? PAGE_MAX_EVENTS, PAGE_MAX_EVENTS);
      const r = await gw.readPage(who, { filter, from, limit, ...(untilSeq !== undefined ? { untilSeq } : {}) });
      if (!r.ok) return fail(res, r.code === "limit" ? "rate_limited" : r.code, r.message, retryAfter(r.retryAfterMs));
      const { events, lastSeq, next } = r.page;
      return json(res, 200, { events, lastSeq, next, truncated: next !== null });
    }
    if (path === "/api/commands") {
      if (method !== "POST") return fail(res, "bad_request", "POST a command: {action, worker, reason?, wait?}", { Allow: "POST" });
      const body = await readJsonBody(req, cfg.gateway.maxFrameBytes);
      if (typeof body !== "object" || body === null || Array.isArray(body)) return fail(res, "bad_request", "body: a JSON object {action, worker, reason?, wait?}");
      const b = body as Record<string, unknown>;
      if (typeof b.action !== "string" || !(COMMAND_ACTIONS as readonly string[]).includes(b.action)) return fail(res, "bad_request", `action: one of ${COMMAND_ACTIONS.join(", ")}`);
      if (typeof b.worker !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(b.worker)) return fail(res, "bad_request", "worker: a declared worker's name");
      if (b.reason !== undefined && (typeof b.reason !== "string" || b.reason.length > 1024)) return fail(res, "bad_request", "reason: a string of at most 1024 characters");
      const r = await gw.sendCommand(who, b.action as CommandAction, b.worker, b.reason as string | undefined);
      if (!r.ok) return fail(res, r.code, r.message, retryAfter(r.retryAfterMs));
      if (b.wait === true) {
        const outcome = await gw.hub.waitForOutcome(r.command.id, 15_000);
        return json(res, outcome ? 200 : 202, { command: r.command, outcome: outcome ?? null });
      }
      return json(res, 202, { command: r.command });
    }
    return fail(res, "not_found", `no ${method} ${path}`);
  }

  return (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((err) => {
      if (err instanceof BodyError) {
        // Answered once the rest of the body was read and thrown away; the connection is not reused.
        if (err.status === 413) res.setHeader("Connection", "close");
        return json(res, err.status, { error: { code: err.code, message: err.message } });
      }
      log.error({ err: (err as Error).message, url: req.url }, "request failed");
      if (!res.headersSent) fail(res, "internal", (err as Error).message);
      else res.end();
    });
  };
}
