import type { Logger } from "@vigil/events";
import type { WebSocket } from "ws";
import { canCommand, type Principal } from "./auth.js";
import type { Gateway } from "./gateway.js";
import { parseRequest, type Request } from "./protocol.js";
import { startAuth } from "./session-auth.js";
import { createSessionContext, type SessionContext } from "./session-context.js";
import { logsOp } from "./session-logs.js";
import { createReplays } from "./session-replays.js";
import { createSubscriptions, type Subscriptions } from "./session-subscriptions.js";

export { AUTH_TIMEOUT_MS } from "./session-auth.js";
export { MAX_SUBSCRIPTIONS } from "./session-subscriptions.js";
export { REPLAY_MAX_GAP_MS } from "./session-replays.js";

interface SessionParts {
  ctx: SessionContext;
  subs: Subscriptions;
  replays: ReturnType<typeof createReplays>;
  stateWatch?: () => void;
}

/** One authenticated request: the op switch (docs/console-protocol.md). */
async function dispatch(p: SessionParts, principal: Principal, req: Request): Promise<void> {
  const { ctx, subs, replays } = p;
  const { gw } = ctx;
  switch (req.op) {
    case "auth":
      return ctx.error(req.id, "bad_request", "already authenticated");
    case "ping":
      return ctx.send({ type: "pong", id: req.id });
    case "state": {
      if (req.watch && !p.stateWatch) p.stateWatch = gw.hub.onState(() => ctx.send({ type: "state", id: null, state: gw.stateView() }));
      return ctx.send({ type: "state", id: req.id, state: gw.stateView() });
    }
    case "subscribe":
      return subs.subscribe(req);
    case "unsubscribe":
      return subs.unsubscribe(req);
    case "command": {
      if (!canCommand(principal)) return ctx.error(req.id, "forbidden", `${principal.name} is a ${principal.role}: only operators send commands`);
      const r = await gw.sendCommand(principal, req.action, req.worker, req.reason);
      if (!r.ok) return ctx.error(req.id, r.code, r.message);
      return ctx.send({ type: "command", id: req.id, command: r.command });
    }
    case "replay":
      return replays.replay(principal, req);
    case "cancel":
      return replays.cancel(req);
    case "logs":
      return logsOp(ctx, subs, principal, req);
  }
}

/**
 * One WebSocket client: authentication (session-auth.ts), its subscriptions with bounded sending
 * (session-subscriptions.ts), replays (session-replays.ts) and followed logs (session-logs.ts).
 */
export function startSession(ws: WebSocket, gw: Gateway, initial: Principal | undefined, log: Logger): void {
  const ctx = createSessionContext(ws, gw, log);
  gw.clients.add(ws);
  const auth = startAuth(ctx, initial);
  const parts: SessionParts = { ctx, subs: createSubscriptions(ctx), replays: createReplays(ctx) };

  ws.on("message", (data, isBinary) => {
    const principal = auth.principal();
    if (isBinary) {
      // Before authentication only a well-formed auth is accepted, as for any other bad frame.
      if (!principal) return auth.refuse();
      return ctx.error(null, "bad_request", "frames must be text (JSON), not binary");
    }
    const parsed = parseRequest(data.toString(), `vigil.${gw.config.device}.>`);
    if (!parsed.ok) {
      if (!principal) return auth.refuse();
      const { id, code, message } = parsed.error;
      return ctx.error(id, code, message);
    }
    if (!principal) return auth.accept(parsed.req);
    dispatch(parts, principal, parsed.req).catch((err) => {
      log.error({ err: (err as Error).message, op: parsed.req.op }, "console request failed");
      ctx.error(parsed.req.id, "internal", (err as Error).message);
    });
  });
  ws.on("error", (err) => log.debug({ err: err.message }, "console socket error"));
  ws.on("close", () => {
    ctx.closed = true;
    gw.clients.delete(ws);
    auth.stop();
    parts.stateWatch?.();
    parts.replays.cancelAll();
    parts.subs.closeAll();
  });
}
