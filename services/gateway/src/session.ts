import { type EventWithSeq, type Logger } from "@vigil/events";
import type { WebSocket } from "ws";
import { authenticate, canCommand, type Principal } from "./auth.js";
import type { Gateway } from "./gateway.js";
import { consoleEvent } from "./views.js";
import { CLOSE_UNAUTHORIZED, parseRequest, PROTOCOL_VERSION, type ErrorCode, type Request } from "./protocol.js";

/** Per connection: at most this many subscriptions at a time (replays are limited per token: gateway.replaysPerToken). */
export const MAX_SUBSCRIPTIONS = 16;
/** A connection that has not authenticated within this long is closed with 4401. */
export const AUTH_TIMEOUT_MS = 5_000;
/** Events queued for one subscription within one tick before they are dropped like a slow client's. */
const MAX_PENDING_PER_SUB = 5_000;
/** Replays shorten any pause between two events to this much real time. */
export const REPLAY_MAX_GAP_MS = 2_000;

interface Subscription {
  id: string;
  pending: string[];
  dropped: number;
  dropFrom?: number;
  dropTo?: number;
  close(): Promise<void> | void;
}

/**
 * One WebSocket client: authentication, its subscriptions and replays, and bounded sending — when the
 * socket's unsent data passes the limit, events for it are dropped and counted, and once it has drained
 * it is told `{type:"lagged", sub, dropped, fromSeq, toSeq}` so it can resubscribe from `fromSeq`.
 */
export function startSession(ws: WebSocket, gw: Gateway, initial: Principal | undefined, log: Logger): void {
  let principal = initial;
  const subs = new Map<string, Subscription>();
  const replays = new Map<string, () => void>();
  const limit = gw.config.gateway.clientBufferBytes;
  let flushScheduled = false;
  let lagTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let stateWatch: (() => void) | undefined;
  gw.clients.add(ws);

  const send = (obj: unknown) => {
    if (!closed && ws.readyState === ws.OPEN) ws.send(JSON.stringify(obj));
  };
  const error = (id: string | null, code: ErrorCode, message: string, retryAfterMs?: number) => send({ type: "error", id, code, message, ...(retryAfterMs ? { retryAfterMs } : {}) });

  const authTimer = principal
    ? undefined
    : setTimeout(() => ws.close(CLOSE_UNAUTHORIZED, "authentication required: send {op:'auth'} first"), AUTH_TIMEOUT_MS);
  send({ type: "hello", v: PROTOCOL_VERSION, device: gw.config.device, authenticated: !!principal, ...(principal ? { user: principal.name, role: principal.role } : {}) });

  function flush(): void {
    flushScheduled = false;
    if (closed) return;
    for (const s of subs.values()) {
      if (s.pending.length === 0) continue;
      if (s.dropped > 0) reportLag(s);
      if (s.dropped > 0) {
        // Still behind: these are dropped too rather than queued.
        drop(s, s.pending.length, undefined);
        s.pending = [];
        continue;
      }
      const batch = s.pending;
      s.pending = [];
      ws.send(`{"type":"events","sub":${JSON.stringify(s.id)},"events":[${batch.join(",")}]}`);
    }
  }

  function drop(s: Subscription, n: number, seq: number | undefined): void {
    s.dropped += n;
    gw.dropped.n += n;
    if (seq !== undefined) {
      s.dropFrom ??= seq;
      s.dropTo = seq;
    }
    lagTimer ??= setInterval(() => {
      for (const x of subs.values()) if (x.dropped > 0) reportLag(x);
      if (![...subs.values()].some((x) => x.dropped > 0) && lagTimer) {
        clearInterval(lagTimer);
        lagTimer = undefined;
      }
    }, 200);
  }

  /** Tells the client what it missed, once its socket has drained below half the limit. */
  function reportLag(s: Subscription): void {
    if (ws.bufferedAmount > limit / 2) return;
    send({ type: "lagged", sub: s.id, dropped: s.dropped, fromSeq: s.dropFrom ?? null, toSeq: s.dropTo ?? null });
    s.dropped = 0;
    delete s.dropFrom;
    delete s.dropTo;
  }

  function deliverTo(s: Subscription) {
    return (seq: number, json: string) => {
      if (closed) return;
      if (s.dropped > 0 || ws.bufferedAmount > limit || s.pending.length >= MAX_PENDING_PER_SUB) return drop(s, 1, seq);
      s.pending.push(json);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    };
  }

  async function handle(req: Request): Promise<void> {
    if (!principal) {
      if (req.op !== "auth") {
        ws.close(CLOSE_UNAUTHORIZED, "authentication required: send {op:'auth'} first");
        return;
      }
      const p = authenticate(req.token, gw.tokens);
      if (!p) {
        log.warn({ remote: (ws as any)._socket?.remoteAddress }, "console connection with an invalid token");
        ws.close(CLOSE_UNAUTHORIZED, "invalid token");
        return;
      }
      principal = p;
      if (authTimer) clearTimeout(authTimer);
      send({ type: "authenticated", id: req.id, user: p.name, role: p.role });
      return;
    }
    switch (req.op) {
      case "auth":
        return error(req.id, "bad_request", "already authenticated");
      case "ping":
        return send({ type: "pong", id: req.id });
      case "state": {
        if (req.watch && !stateWatch) stateWatch = gw.hub.onState(() => send({ type: "state", id: null, state: gw.stateView() }));
        return send({ type: "state", id: req.id, state: gw.stateView() });
      }
      case "subscribe": {
        if (subs.size >= MAX_SUBSCRIPTIONS) return error(req.id, "limit", `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection`);
        if (subs.has(req.id)) return error(req.id, "bad_request", `a subscription with id ${req.id} exists`);
        const s: Subscription = { id: req.id, pending: [], dropped: 0, close: () => undefined };
        subs.set(s.id, s);
        gw.subscriptions.n++;
        const deliver = deliverTo(s);
        if (req.from === "new") {
          s.close = gw.hub.addLive({ filters: req.filters, deliver });
          return send({ type: "subscribed", id: req.id, sub: s.id, from: "new", seq: gw.hub.lastSeq() });
        }
        // History first, then live, from one ordered consumer: in stream order, no gap, no repeat.
        try {
          const stop = await gw.tail(req.filters, req.from, (e: EventWithSeq, json: string) => deliver(e.seq, json));
          if (closed || !subs.has(s.id)) return void (await stop());
          s.close = stop;
          return send({ type: "subscribed", id: req.id, sub: s.id, from: req.from });
        } catch (err) {
          subs.delete(s.id);
          gw.subscriptions.n--;
          return error(req.id, "internal", `cannot read the stream: ${(err as Error).message}`);
        }
      }
      case "unsubscribe": {
        const s = subs.get(req.sub);
        if (!s) return error(req.id, "not_found", `no subscription ${req.sub}`);
        subs.delete(req.sub);
        gw.subscriptions.n--;
        await s.close();
        return send({ type: "unsubscribed", id: req.id, sub: req.sub });
      }
      case "command": {
        if (!canCommand(principal)) return error(req.id, "forbidden", `${principal.name} is a ${principal.role}: only operators send commands`);
        const r = await gw.sendCommand(principal, req.action, req.worker, req.reason);
        if (!r.ok) return error(req.id, r.code, r.message);
        return send({ type: "command", id: req.id, command: r.command });
      }
      case "replay": {
        if (replays.has(req.id)) return error(req.id, "bad_request", `a replay with id ${req.id} is running`);
        // Taken before the read's first await, so concurrent replays of one token cannot all pass.
        const slot = gw.reserveReplay(principal);
        if (!slot.ok) return error(req.id, slot.code, slot.message, slot.retryAfterMs);
        let started = false;
        try {
          const r = await gw.incidentEvents(principal, req.incident);
          if (!r.ok) return error(req.id, r.code, r.message, r.retryAfterMs);
          if (r.events.length === 0) return error(req.id, "not_found", `no events of incident ${req.incident}`);
          if (closed) return;
          started = true;
          return replay(req.id, req.incident, r.events, req.speed, slot.release);
        } finally {
          if (!started) slot.release();
        }
      }
      case "cancel": {
        const c = replays.get(req.replay);
        if (!c) return error(req.id, "not_found", `no running replay ${req.replay}`);
        c();
        return;
      }
    }
  }

  /** Plays an incident back in stream order, pausing between events as they happened divided by `speed`. */
  function replay(id: string, incident: string, events: EventWithSeq[], speed: number, release: () => void): void {
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const end = (cancelled: boolean) => {
      if (timer) clearTimeout(timer);
      replays.delete(id);
      release();
      send({ type: "replay.done", id, replay: id, incident, sent: i, cancelled });
    };
    replays.set(id, () => end(true));
    send({ type: "replay.started", id, replay: id, incident, count: events.length, speed });
    const next = () => {
      if (closed || !replays.has(id)) return;
      const e = events[i];
      if (!e) return end(false);
      send({ type: "replay.event", replay: id, index: i, event: consoleEvent(e) });
      i++;
      const after = events[i];
      if (!after) return end(false);
      const gap = speed === 0 ? 0 : Math.min(REPLAY_MAX_GAP_MS, Math.max(0, (Date.parse(after.time) - Date.parse(e.time)) / speed));
      timer = setTimeout(next, gap);
    };
    next();
  }

  ws.on("message", (data, isBinary) => {
    if (isBinary) {
      // Before authentication only a well-formed auth is accepted, as for any other bad frame.
      if (!principal) return ws.close(CLOSE_UNAUTHORIZED, "authentication required: send {op:'auth'} first");
      return error(null, "bad_request", "frames must be text (JSON), not binary");
    }
    const text = data.toString();
    const parsed = parseRequest(text, `vigil.${gw.config.device}.>`);
    if (!parsed.ok) {
      const { id, code, message } = parsed.error;
      // Before authentication only a well-formed auth is accepted.
      if (!principal) return ws.close(CLOSE_UNAUTHORIZED, "authentication required: send {op:'auth'} first");
      return error(id, code, message);
    }
    handle(parsed.req).catch((err) => {
      log.error({ err: (err as Error).message, op: parsed.req.op }, "console request failed");
      error(parsed.req.id, "internal", (err as Error).message);
    });
  });
  ws.on("error", (err) => log.debug({ err: err.message }, "console socket error"));
  ws.on("close", () => {
    closed = true;
    gw.clients.delete(ws);
    if (authTimer) clearTimeout(authTimer);
    if (lagTimer) clearInterval(lagTimer);
    stateWatch?.();
    for (const c of replays.values()) c();
    for (const s of subs.values()) void s.close();
    gw.subscriptions.n -= subs.size;
    subs.clear();
  });
}
