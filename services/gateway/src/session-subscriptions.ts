import type { EventWithSeq } from "@vigil/events";
import type { Request } from "./protocol.js";
import type { SessionContext } from "./session-context.js";

/** Per connection: at most this many subscriptions at a time, event feeds and followed logs together (replays are limited per token: gateway.replaysPerToken). */
export const MAX_SUBSCRIPTIONS = 16;
/** Events queued for one subscription within one tick before they are dropped like a slow client's. */
const MAX_PENDING_PER_SUB = 5_000;
/** How often a lagging connection is checked for having drained enough to be told what it missed. */
const LAG_CHECK_MS = 200;

export interface Subscription {
  id: string;
  pending: string[];
  dropped: number;
  dropFrom?: number;
  dropTo?: number;
  close(): Promise<void> | void;
}

export type SubscribeRequest = Extract<Request, { op: "subscribe" }>;
export type UnsubscribeRequest = Extract<Request, { op: "unsubscribe" }>;

/**
 * Bounded sending for one connection's subscriptions: events are batched per tick; when the socket's
 * unsent data passes gateway.clientBufferBytes, events for it are dropped and counted, and once it has
 * drained below half of that it is told `{type:"lagged", sub, dropped, fromSeq, toSeq}` so it can
 * resubscribe from `fromSeq`.
 */
function createBoundedSender(ctx: SessionContext, subs: Map<string, Subscription>) {
  const { ws, gw } = ctx;
  const limit = gw.config.gateway.clientBufferBytes;
  let flushScheduled = false;
  let lagTimer: NodeJS.Timeout | undefined;

  function flush(): void {
    flushScheduled = false;
    if (ctx.closed) return;
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
    }, LAG_CHECK_MS);
  }

  /** Tells the client what it missed, once its socket has drained below half the limit. */
  function reportLag(s: Subscription): void {
    if (ws.bufferedAmount > limit / 2) return;
    ctx.send({ type: "lagged", sub: s.id, dropped: s.dropped, fromSeq: s.dropFrom ?? null, toSeq: s.dropTo ?? null });
    s.dropped = 0;
    delete s.dropFrom;
    delete s.dropTo;
  }

  return {
    /** What a subscription's source calls with each event: queued for this tick's batch, or dropped and counted. */
    deliverTo(s: Subscription) {
      return (seq: number, json: string) => {
        if (ctx.closed) return;
        if (s.dropped > 0 || ws.bufferedAmount > limit || s.pending.length >= MAX_PENDING_PER_SUB) return drop(s, 1, seq);
        s.pending.push(json);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      };
    },
    /** Whether the socket has more unsent data than gateway.clientBufferBytes: senders drop and count instead of queueing. */
    congested: () => ws.bufferedAmount > limit,
    stop(): void {
      if (lagTimer) clearInterval(lagTimer);
    },
  };
}

/** One connection's subscriptions (event feeds and followed logs), each sent through the bounded sender. */
export function createSubscriptions(ctx: SessionContext) {
  const { gw } = ctx;
  const subs = new Map<string, Subscription>();
  const sender = createBoundedSender(ctx, subs);

  /** Takes a subscription slot under `id` at once (no await before it), or says why not. */
  function reserve(id: string): Subscription | { problem: "limit" | "bad_request"; message: string } {
    if (subs.size >= MAX_SUBSCRIPTIONS) return { problem: "limit", message: `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection` };
    if (subs.has(id)) return { problem: "bad_request", message: `a subscription with id ${id} exists` };
    const s: Subscription = { id, pending: [], dropped: 0, close: () => undefined };
    subs.set(id, s);
    gw.subscriptions.n++;
    return s;
  }

  /** Gives a reserved slot back (its start failed); the caller stops whatever it started. */
  function forget(s: Subscription): void {
    if (subs.get(s.id) !== s) return;
    subs.delete(s.id);
    gw.subscriptions.n--;
  }

  async function subscribe(req: SubscribeRequest): Promise<void> {
    const s = reserve(req.id);
    if ("problem" in s) return ctx.error(req.id, s.problem, s.message);
    const deliver = sender.deliverTo(s);
    if (req.from === "new") {
      s.close = gw.hub.addLive({ filters: req.filters, deliver });
      return ctx.send({ type: "subscribed", id: req.id, sub: s.id, from: "new", seq: gw.hub.lastSeq() });
    }
    // History first, then live, from one ordered consumer: in stream order, no gap, no repeat.
    try {
      const stop = await gw.tail(req.filters, req.from, (e: EventWithSeq, json: string) => deliver(e.seq, json));
      if (ctx.closed || !subs.has(s.id)) return void (await stop());
      s.close = stop;
      return ctx.send({ type: "subscribed", id: req.id, sub: s.id, from: req.from });
    } catch (err) {
      forget(s);
      return ctx.error(req.id, "internal", `cannot read the stream: ${(err as Error).message}`);
    }
  }

  async function unsubscribe(req: UnsubscribeRequest): Promise<void> {
    const s = subs.get(req.sub);
    if (!s) return ctx.error(req.id, "not_found", `no subscription ${req.sub}`);
    forget(s);
    await s.close();
    return ctx.send({ type: "unsubscribed", id: req.id, sub: req.sub });
  }

  return {
    subscribe,
    unsubscribe,
    reserve,
    forget,
    /** Whether the slot is still held (not unsubscribed meanwhile). */
    holds: (s: Subscription) => subs.get(s.id) === s,
    congested: sender.congested,
    closeAll(): void {
      sender.stop();
      for (const s of subs.values()) void s.close();
      gw.subscriptions.n -= subs.size;
      subs.clear();
    },
  };
}
export type Subscriptions = ReturnType<typeof createSubscriptions>;
