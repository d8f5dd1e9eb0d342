import type { EventWithSeq } from "@vigil/events";
import type { Principal } from "./auth.js";
import type { Request } from "./protocol.js";
import type { SessionContext } from "./session-context.js";
import { consoleEvent } from "./views.js";

/** Replays shorten any pause between two events to this much real time. */
export const REPLAY_MAX_GAP_MS = 2_000;

type ReplayRequest = Extract<Request, { op: "replay" }>;
type CancelRequest = Extract<Request, { op: "cancel" }>;

/** One connection's incident replays: each holds one of its token's replay slots while it plays. */
export function createReplays(ctx: SessionContext) {
  const { gw } = ctx;
  const replays = new Map<string, () => void>();

  /** Plays an incident back in stream order, pausing between events as they happened divided by `speed`. */
  function play(id: string, incident: string, events: EventWithSeq[], speed: number, release: () => void): void {
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const end = (cancelled: boolean) => {
      if (timer) clearTimeout(timer);
      replays.delete(id);
      release();
      ctx.send({ type: "replay.done", id, replay: id, incident, sent: i, cancelled });
    };
    replays.set(id, () => end(true));
    ctx.send({ type: "replay.started", id, replay: id, incident, count: events.length, speed });
    const next = () => {
      if (ctx.closed || !replays.has(id)) return;
      const e = events[i];
      if (!e) return end(false);
      ctx.send({ type: "replay.event", replay: id, index: i, event: consoleEvent(e) });
      i++;
      const after = events[i];
      if (!after) return end(false);
      const gap = speed === 0 ? 0 : Math.min(REPLAY_MAX_GAP_MS, Math.max(0, (Date.parse(after.time) - Date.parse(e.time)) / speed));
      timer = setTimeout(next, gap);
    };
    next();
  }

  return {
    async replay(principal: Principal, req: ReplayRequest): Promise<void> {
      if (replays.has(req.id)) return ctx.error(req.id, "bad_request", `a replay with id ${req.id} is running`);
      // Taken before the read's first await, so concurrent replays of one token cannot all pass.
      const slot = gw.reserveReplay(principal);
      if (!slot.ok) return ctx.error(req.id, slot.code, slot.message, slot.retryAfterMs);
      let started = false;
      try {
        const r = await gw.incidentEvents(principal, req.incident);
        if (!r.ok) return ctx.error(req.id, r.code, r.message, r.retryAfterMs);
        if (r.events.length === 0) return ctx.error(req.id, "not_found", `no events of incident ${req.incident}`);
        if (ctx.closed) return;
        started = true;
        return play(req.id, req.incident, r.events, req.speed, slot.release);
      } finally {
        if (!started) slot.release();
      }
    },
    cancel(req: CancelRequest): void {
      const c = replays.get(req.replay);
      if (!c) return ctx.error(req.id, "not_found", `no running replay ${req.replay}`);
      c();
    },
    cancelAll(): void {
      for (const c of replays.values()) c();
    },
  };
}
