import { followLog } from "@vigil/events";
import type { Principal } from "./auth.js";
import { MAX_LOG_LINES, resolveLog } from "./logs.js";
import type { Request } from "./protocol.js";
import type { SessionContext } from "./session-context.js";
import type { Subscriptions } from "./session-subscriptions.js";

type LogsRequest = Extract<Request, { op: "logs" }>;

/**
 * The `logs` op: a log's last lines (`{type:"logs", id, name, kind, lines, truncated, follow}`) and,
 * with `follow`, every line appended after (`{type:"logs", id:null, sub, name, lines, dropped?}`)
 * until `unsubscribe` or close. A followed log holds one of the connection's subscription slots; while
 * the socket is congested its new lines are dropped and counted, and the next frame says how many.
 */
export async function logsOp(ctx: SessionContext, subs: Subscriptions, principal: Principal, req: LogsRequest): Promise<void> {
  const target = resolveLog(ctx.gw.config, req.name);
  if (!target) return ctx.error(req.id, "not_found", `no log "${req.name}": not a declared worker or a Vigil service`);
  // The slot is taken before the first await, so a burst of follows cannot pass the limit together.
  const sub = req.follow ? subs.reserve(req.id) : undefined;
  if (sub && "problem" in sub) return ctx.error(req.id, sub.problem, sub.message);
  // Following starts before the read: a line written meanwhile may come twice, never not at all.
  // Lines that arrive before the first answer wait for it (at most MAX_LOG_LINES of them), so frames come in order.
  let early: string[] | undefined = [];
  let dropped = 0;
  const forward = (lines: string[]) => {
    if (ctx.closed || !sub || !subs.holds(sub)) return;
    if (subs.congested()) return void (dropped += lines.length);
    ctx.send({ type: "logs", id: null, sub: sub.id, name: req.name, lines, ...(dropped ? { dropped } : {}) });
    dropped = 0;
  };
  const follower = sub
    ? followLog(target.file, (lines) => {
        if (!early) return forward(lines);
        early.push(...lines);
        if (early.length > MAX_LOG_LINES) dropped += early.splice(0, early.length - MAX_LOG_LINES).length;
      })
    : undefined;
  if (sub && follower) sub.close = () => follower.stop();
  const r = await ctx.gw.readLogs(principal, req.name, req.query);
  if (!r.ok) {
    follower?.stop();
    if (sub) subs.forget(sub);
    return ctx.error(req.id, r.code, r.message, "retryAfterMs" in r ? r.retryAfterMs : undefined);
  }
  if (ctx.closed) return follower?.stop();
  ctx.send({ type: "logs", id: req.id, name: r.name, kind: r.kind, lines: r.lines, truncated: r.truncated, follow: !!sub, ...(sub ? { sub: sub.id } : {}) });
  const waiting = early;
  early = undefined;
  if (waiting.length || dropped) forward(waiting);
}
