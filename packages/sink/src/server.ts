import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { FaultsSchema, NO_FAULTS, pickFault, type Faults } from "./faults.js";
import { SIGNATURE_HEADER, verify } from "./signature.js";
import { DeliveryLog, type DeliverySnapshot } from "./delivery-log.js";
import { EventStore, type ReceivedBody, type SinkCounts, type StoredEvent } from "./store.js";
import { validateBatch } from "./validate.js";

/**
 * Output buffer size of the gunzip. With zlib's default (16 kB) and the async call, a 1000-event
 * batch (~330 kB) took ~20 trips to the thread pool and 1.6 ms of CPU; one synchronous call with a
 * 1 MiB buffer takes ~0.3 ms (measured on the bench machine), blocking the loop about that long.
 */
const GUNZIP_CHUNK_BYTES = 1024 * 1024;

export const BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";

export interface SinkOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** The level store lives here. */
  dataDir: string;
  /** The shared HMAC secret telemetry signs with. */
  secret: string;
  /** Initial faults. */
  faults?: Partial<Faults>;
  /** Enables POST/DELETE /faults (tests, demos). Off by default. */
  allowFaults?: boolean;
  /** Largest request body accepted, compressed and uncompressed. */
  maxBodyBytes?: number;
  /** Serve HTTPS; with `ca`, client certificates signed by it are required (mTLS). Paths. */
  tls?: { cert: string; key: string; ca?: string };
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Keep a log of every delivery (GET/DELETE /deliveries; tests and benchmarks). Off by default. */
  deliveryLog?: boolean;
}

export interface Sink {
  url: string;
  port: number;
  counts(): SinkCounts;
  events(after?: number, limit?: number): Promise<StoredEvent[]>;
  store: EventStore;
  setFaults(f: Partial<Faults>): Faults;
  /** Resolves when the counts satisfy `pred`; rejects after timeoutMs naming what it waited for. */
  waitFor(what: string, pred: (c: SinkCounts) => boolean, timeoutMs?: number): Promise<SinkCounts>;
  /** Every delivery since the last reset (undefined unless started with deliveryLog). */
  deliveries(): DeliverySnapshot | undefined;
  resetDeliveries(): void;
  /** Requests being held by the hang fault. */
  hanging(): number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Seconds for a Retry-After header. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new HttpError(413, `body larger than ${max} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const intParam = (v: string | null, fallback: number) => (v !== null && /^-?\d+$/.test(v) ? Number(v) : fallback);

/** What the request handlers of one sink share. */
interface SinkState {
  o: SinkOptions;
  store: EventStore;
  maxBody: number;
  faults: Faults;
  /** Requests being held by the hang fault. */
  hung: Set<ServerResponse>;
  deliveryLog?: DeliveryLog;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  setFaults(f: Partial<Faults>): Faults;
}

/** The body as received (for the store) and as JSON: gunzipped when it says so (capped at maxBody uncompressed); a bad body is 400/415 and counted invalid. */
function decodeBody(st: SinkState, req: IncomingMessage, raw: Buffer): { received: ReceivedBody; json: unknown } {
  let text: Buffer = raw;
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding === "gzip") {
    try {
      text = gunzipSync(raw, { maxOutputLength: st.maxBody, chunkSize: Math.max(64, Math.min(GUNZIP_CHUNK_BYTES, st.maxBody)) });
    } catch (err) {
      st.store.bump("invalid");
      throw new HttpError(400, `body is not valid gzip: ${(err as Error).message}`);
    }
  } else if (encoding !== "identity") {
    st.store.bump("invalid");
    throw new HttpError(415, `content-encoding "${encoding}" is not supported (gzip or none)`);
  }
  try {
    return { received: encoding === "gzip" ? { bytes: raw, gzip: true } : { bytes: text, gzip: false }, json: JSON.parse(text.toString("utf8")) as unknown };
  } catch (err) {
    st.store.bump("invalid");
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
}

/** Applies the configured faults to a signed batch: true when the request is being held (hang). */
async function injectFault(st: SinkState, res: ServerResponse): Promise<boolean> {
  const action = pickFault(st.faults, Math.random());
  if (action.kind === "hang") {
    st.store.bump("faulted");
    st.hung.add(res);
    res.on("close", () => st.hung.delete(res));
    return true;
  }
  if (st.faults.delayMs > 0) await new Promise((r) => setTimeout(r, st.faults.delayMs));
  if (action.kind === "error") {
    st.store.bump("faulted");
    throw new HttpError(action.status, "injected fault", {}, action.retryAfterS);
  }
  return false;
}

/** POST / (or /v1/events): signature, content type, faults, body, validation, then the store — all or nothing. */
async function postBatch(st: SinkState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { o, store } = st;
  store.bump("requests");
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
  const raw = await readBody(req, st.maxBody);
  if (!verify(o.secret, raw, req.headers[SIGNATURE_HEADER] as string | undefined)) {
    store.bump("unauthorized");
    throw new HttpError(401, req.headers[SIGNATURE_HEADER] ? "signature does not match the body (wrong secret?)" : `missing ${SIGNATURE_HEADER} header`);
  }
  if (type !== BATCH_CONTENT_TYPE) {
    store.bump("invalid");
    throw new HttpError(415, `content-type must be ${BATCH_CONTENT_TYPE}, got "${type}"`);
  }
  if (await injectFault(st, res)) return;
  const body = decodeBody(st, req, raw);
  const v = validateBatch(body.json);
  if (!v.ok) {
    store.bump("invalid");
    throw new HttpError(422, v.error, { rejected: v.rejected.slice(0, 100) });
  }
  if (st.faults.rejectIds.length > 0) {
    const refused = new Set(st.faults.rejectIds);
    const rejected = v.events.flatMap((e, index) => (refused.has(e.id) ? [{ index, id: e.id, reason: "refused by the sink (injected fault)" }] : []));
    if (rejected.length > 0) {
      store.bump("invalid");
      throw new HttpError(422, `event ${rejected[0]!.id} refused`, { rejected });
    }
  }
  const seq = (h: string) => (typeof req.headers[h] === "string" && /^\d+$/.test(req.headers[h] as string) ? Number(req.headers[h]) : undefined);
  // The body is the events as received: the store keeps it (gzipped as it came) instead of serialising the events again.
  const r = await store.add(v.events, { firstSeq: seq("x-vigil-first-seq"), lastSeq: seq("x-vigil-last-seq") }, body.received);
  st.deliveryLog?.record(v.events.map((e) => e.id));
  send(res, 200, { received: v.events.length, ...r });
}

/** POST /faults sets them from a JSON body (validated), DELETE /faults clears them; only with allowFaults. */
async function changeFaults(st: SinkState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!st.o.allowFaults) throw new HttpError(403, "fault injection is off (start the sink with --faults)");
  let next: Faults = NO_FAULTS;
  if (req.method === "POST") {
    const raw = await readBody(req, 64 * 1024);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8") || "{}");
    } catch (err) {
      throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
    }
    const f = FaultsSchema.safeParse(parsed);
    if (!f.success) throw new HttpError(400, f.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; "));
    next = f.data;
  }
  return send(res, 200, st.setFaults(next));
}

/** One request by its `<METHOD> <path>`. */
async function routeRequest(st: SinkState, req: IncomingMessage, res: ServerResponse, url: URL, route: string): Promise<void> {
  const { store } = st;
  switch (route) {
    case "POST /":
    case "POST /v1/events":
      return await postBatch(st, req, res);
    case "GET /counts":
      return send(res, 200, store.counts());
    case "GET /health":
      return send(res, 200, { ok: true });
    case "GET /events": {
      const events = await store.events(intParam(url.searchParams.get("after"), -1), Math.min(100_000, intParam(url.searchParams.get("limit"), 10_000)));
      return send(res, 200, { events, next: events.at(-1)?.index ?? intParam(url.searchParams.get("after"), -1) });
    }
    case "GET /deliveries":
    case "DELETE /deliveries": {
      if (!st.deliveryLog) throw new HttpError(403, "the delivery log is off (start the sink with --delivery-log)");
      if (req.method === "DELETE") st.deliveryLog.reset();
      return send(res, 200, st.deliveryLog.snapshot());
    }
    case "GET /faults":
      return send(res, 200, st.faults);
    case "POST /faults":
    case "DELETE /faults":
      return changeFaults(st, req, res);
    default:
      throw new HttpError(404, `no route ${route}`);
  }
}

/** Every request: routed, and any error answered as JSON (an injected 503 is not logged: it is expected). */
async function handle(st: SinkState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sink");
  const name = `${req.method} ${url.pathname}`;
  try {
    await routeRequest(st, req, res, url, name);
  } catch (err) {
    if (err instanceof HttpError) {
      const headers: Record<string, string> = {};
      if (err.retryAfterS !== undefined) headers["retry-after"] = String(err.retryAfterS);
      if (err.status !== 503 || err.message !== "injected fault") st.log("refused", { route: name, status: err.status, error: err.message });
      if (!res.headersSent) send(res, err.status, { error: err.message, ...err.extra }, headers);
      return;
    }
    st.log("error", { route: name, error: (err as Error).message });
    if (!res.headersSent) send(res, 500, { error: (err as Error).message });
  }
}

/** An HTTP or HTTPS (mTLS with `ca`) server, listening. */
async function listen(o: SinkOptions, onRequest: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server: Server = o.tls
    ? createHttpsServer(
        {
          cert: readFileSync(o.tls.cert),
          key: readFileSync(o.tls.key),
          ...(o.tls.ca ? { ca: readFileSync(o.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        onRequest,
      )
    : createHttpServer(onRequest);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resolve());
  });
  return server;
}

/** Resolves when the counts satisfy `pred`; rejects after timeoutMs naming what it waited for. */
function waitForCounts(store: EventStore, what: string, pred: (c: SinkCounts) => boolean, timeoutMs: number): Promise<SinkCounts> {
  return new Promise<SinkCounts>((resolve, reject) => {
    const check = (c: SinkCounts) => {
      if (!pred(c)) return;
      off();
      clearTimeout(timer);
      resolve(c);
    };
    const off = store.onChange(check);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`sink: timed out after ${timeoutMs} ms waiting for ${what}; counts ${JSON.stringify(store.counts())}`));
    }, timeoutMs);
    check(store.counts());
  });
}

/**
 * A local stand-in for the cloud: verifies each batch's signature, gunzips, validates every event,
 * stores each event id once (level) and counts what it saw. A batch is all-or-nothing: one invalid
 * event refuses it with 422 naming the event(s), and nothing of it is stored.
 */
export async function startSink(o: SinkOptions): Promise<Sink> {
  const store = await EventStore.open(o.dataDir);
  const releaseHung = () => {
    for (const res of st.hung) res.destroy();
    st.hung.clear();
  };
  const st: SinkState = {
    o,
    store,
    maxBody: o.maxBodyBytes ?? 64 * 1024 * 1024,
    faults: FaultsSchema.parse({ ...NO_FAULTS, ...o.faults }),
    hung: new Set<ServerResponse>(),
    ...(o.deliveryLog ? { deliveryLog: new DeliveryLog() } : {}),
    log: o.log ?? (() => undefined),
    setFaults(f) {
      st.faults = FaultsSchema.parse({ ...NO_FAULTS, ...f });
      if (!st.faults.hang) releaseHung();
      st.log("faults", { ...st.faults });
      return st.faults;
    },
  };
  const server = await listen(o, (req, res) => void handle(st, req, res));
  const port = (server.address() as AddressInfo).port;
  const host = o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1";
  return {
    url: `${o.tls ? "https" : "http"}://${host}:${port}/v1/events`,
    port,
    store,
    counts: () => store.counts(),
    events: (after, limit) => store.events(after, limit),
    setFaults: st.setFaults,
    deliveries: () => st.deliveryLog?.snapshot(),
    resetDeliveries: () => st.deliveryLog?.reset(),
    waitFor: (what, pred, timeoutMs = 30_000) => waitForCounts(store, what, pred, timeoutMs),
    hanging: () => st.hung.size,
    async close() {
      releaseHung();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    },
  };
}
