/**
 * The console's WebSocket protocol, version 1 (documented in docs/console-protocol.md).
 * Pure: parses a text frame into a request or an error naming the problem.
 */
import { parseLogQuery, type LogQuery } from "./logs.js";

export const PROTOCOL_VERSION = 1;

export const COMMAND_ACTIONS = ["restart", "pause", "resume", "kill", "start", "stop"] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

export type StartPoint = "new" | "all" | { seq: number } | { time: string };

export type Request =
  | { id: string; op: "auth"; token: string }
  | { id: string; op: "subscribe"; filters: string[]; from: StartPoint }
  | { id: string; op: "unsubscribe"; sub: string }
  | { id: string; op: "command"; action: CommandAction; worker: string; reason?: string }
  | { id: string; op: "replay"; incident: string; speed: number }
  | { id: string; op: "cancel"; replay: string }
  | { id: string; op: "state"; watch: boolean }
  | { id: string; op: "logs"; name: string; query: LogQuery; follow: boolean }
  | { id: string; op: "ping" };

export type ErrorCode =
  | "bad_json"
  | "bad_request"
  | "unknown_op"
  | "unsupported_version"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "rate_limited"
  | "limit"
  | "internal";

export interface ProtocolError {
  id: string | null;
  code: ErrorCode;
  message: string;
}

export const OPS = ["auth", "subscribe", "unsubscribe", "command", "replay", "cancel", "state", "logs", "ping"] as const;
export const MAX_FILTERS = 16;
/** Close codes beyond the standard ones (1009: frame too big, sent by ws itself). */
export const CLOSE_UNAUTHORIZED = 4401;

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A NATS subject filter inside Vigil's stream: `vigil.` then tokens, `*` for one token, `>` last. */
export function validFilter(f: string): boolean {
  if (f.length > 256) return false;
  const parts = f.split(".");
  if (parts[0] !== "vigil" || parts.length < 2) return false;
  return parts.slice(1).every((p, i, all) => p === "*" || (p === ">" && i === all.length - 1) || TOKEN.test(p));
}

/** Whether `subject` matches the NATS filter `filter`. */
export function subjectMatches(filter: string, subject: string): boolean {
  if (filter === subject) return true;
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    const t = f[i];
    if (t === ">") return s.length > i;
    if (i >= s.length) return false;
    if (t !== "*" && t !== s[i]) return false;
  }
  return f.length === s.length;
}

type Parsed = { ok: true; req: Request } | { ok: false; error: ProtocolError };

const fail = (id: string | null, code: ErrorCode, message: string): Parsed => ({ ok: false, error: { id, code, message } });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseStart(v: unknown): { from: StartPoint } | { problem: string } {
  if (v === undefined || v === "new") return { from: "new" };
  if (v === "all") return { from: "all" };
  if (isObject(v)) {
    if ("seq" in v) {
      const n = v.seq;
      return typeof n === "number" && Number.isInteger(n) && n >= 1 ? { from: { seq: n } } : { problem: "from.seq must be a whole number ≥ 1" };
    }
    if ("time" in v) {
      const t = v.time;
      return typeof t === "string" && !Number.isNaN(Date.parse(t)) ? { from: { time: new Date(Date.parse(t)).toISOString() } } : { problem: "from.time must be an ISO date-time" };
    }
  }
  return { problem: `from must be "new", "all", {"seq": n} or {"time": "<ISO time>"}` };
}

/** Parses one text frame. `defaultFilter` is the device's own subjects (`vigil.<device>.>`). */
export function parseRequest(text: string, defaultFilter: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return fail(null, "bad_json", `frame is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) return fail(null, "bad_request", "a request is a JSON object with an id and an op");
  const idRaw = raw.id;
  const id = typeof idRaw === "string" && idRaw.length > 0 && idRaw.length <= 64 ? idRaw : typeof idRaw === "number" && Number.isFinite(idRaw) ? String(idRaw) : null;
  if (id === null) return fail(null, "bad_request", "id: every request needs an id (a string of 1–64 characters or a number)");
  if (raw.v !== undefined && raw.v !== PROTOCOL_VERSION) return fail(id, "unsupported_version", `v: this gateway speaks version ${PROTOCOL_VERSION}, not ${JSON.stringify(raw.v)}`);
  const op = raw.op;
  if (typeof op !== "string") return fail(id, "bad_request", `op: missing; one of ${OPS.join(", ")}`);
  const str = (k: string, max = 256): string | undefined => {
    const v = raw[k];
    return typeof v === "string" && v.length > 0 && v.length <= max ? v : undefined;
  };
  switch (op) {
    case "auth": {
      const token = str("token", 512);
      return token ? { ok: true, req: { id, op, token } } : fail(id, "bad_request", "token: a non-empty string");
    }
    case "subscribe": {
      let filters: string[];
      if (raw.filters === undefined) filters = [defaultFilter];
      else if (Array.isArray(raw.filters) && raw.filters.length >= 1 && raw.filters.length <= MAX_FILTERS && raw.filters.every((f) => typeof f === "string"))
        filters = raw.filters as string[];
      else return fail(id, "bad_request", `filters: a list of 1–${MAX_FILTERS} subject filters`);
      const bad = filters.find((f) => !validFilter(f));
      if (bad !== undefined) return fail(id, "bad_request", `filters: "${bad.slice(0, 80)}" is not a subject filter under vigil. (tokens of letters, digits, _ and -, '*' for one token, '>' last)`);
      const start = parseStart(raw.from);
      if ("problem" in start) return fail(id, "bad_request", start.problem);
      return { ok: true, req: { id, op, filters, from: start.from } };
    }
    case "unsubscribe": {
      const sub = str("sub", 64);
      return sub ? { ok: true, req: { id, op, sub } } : fail(id, "bad_request", "sub: the id of a subscription");
    }
    case "command": {
      const action = raw.action;
      if (typeof action !== "string" || !(COMMAND_ACTIONS as readonly string[]).includes(action))
        return fail(id, "bad_request", `action: one of ${COMMAND_ACTIONS.join(", ")}`);
      const worker = str("worker", 64);
      if (!worker || !TOKEN.test(worker)) return fail(id, "bad_request", "worker: a declared worker's name");
      if (raw.reason !== undefined && (typeof raw.reason !== "string" || raw.reason.length > 1024)) return fail(id, "bad_request", "reason: a string of at most 1024 characters");
      const req: Request = { id, op, action: action as CommandAction, worker };
      if (typeof raw.reason === "string") req.reason = raw.reason;
      return { ok: true, req };
    }
    case "replay": {
      const incident = str("incident", 128);
      if (!incident) return fail(id, "bad_request", "incident: an incident id");
      const speed = raw.speed === undefined ? 1 : raw.speed;
      if (typeof speed !== "number" || !(speed === 0 || (speed >= 0.1 && speed <= 1000)))
        return fail(id, "bad_request", "speed: 0 (as fast as possible) or a factor from 0.1 to 1000");
      return { ok: true, req: { id, op, incident, speed } };
    }
    case "cancel": {
      const replay = str("replay", 64);
      return replay ? { ok: true, req: { id, op, replay } } : fail(id, "bad_request", "replay: the id of a running replay");
    }
    case "state":
      return { ok: true, req: { id, op, watch: raw.watch === true } };
    case "logs": {
      const name = str("name", 64);
      if (!name || !TOKEN.test(name)) return fail(id, "bad_request", "name: a declared worker's or a Vigil service's name");
      if (raw.follow !== undefined && typeof raw.follow !== "boolean") return fail(id, "bad_request", "follow: true or false");
      const q = parseLogQuery(raw.lines, raw.since);
      return q.ok ? { ok: true, req: { id, op, name, query: q.query, follow: raw.follow === true } } : fail(id, "bad_request", q.message);
    }
    case "ping":
      return { ok: true, req: { id, op } };
    default:
      return fail(id, "unknown_op", `op "${op.slice(0, 40)}" is not one of ${OPS.join(", ")}`);
  }
}
