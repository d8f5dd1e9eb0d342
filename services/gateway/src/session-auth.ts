import { authenticate, type Principal } from "./auth.js";
import { CLOSE_UNAUTHORIZED, PROTOCOL_VERSION, type Request } from "./protocol.js";
import type { SessionContext } from "./session-context.js";

/** A connection that has not authenticated within this long is closed with 4401. */
export const AUTH_TIMEOUT_MS = 5_000;
const AUTH_REQUIRED = "authentication required: send {op:'auth'} first";

export interface SessionAuth {
  /** Who the connection is, once authenticated. */
  principal(): Principal | undefined;
  /** Before authentication: takes a well-formed `auth` request; anything else closes the socket with 4401. */
  accept(req: Request): void;
  /** Closes an unauthenticated connection that sent something other than a well-formed auth frame. */
  refuse(): void;
  stop(): void;
}

/**
 * A connection is authenticated by a token on the upgrade request (`initial`) or by its first frame
 * (`{op:"auth"}`, for browsers); until then only that frame is accepted, and only for AUTH_TIMEOUT_MS.
 */
export function startAuth(ctx: SessionContext, initial: Principal | undefined): SessionAuth {
  const { ws, gw } = ctx;
  let principal = initial;
  const refuse = () => ws.close(CLOSE_UNAUTHORIZED, AUTH_REQUIRED);
  const timer = principal ? undefined : setTimeout(refuse, AUTH_TIMEOUT_MS);
  ctx.send({ type: "hello", v: PROTOCOL_VERSION, device: gw.config.device, authenticated: !!principal, ...(principal ? { user: principal.name, role: principal.role } : {}) });
  return {
    principal: () => principal,
    refuse,
    accept(req) {
      if (req.op !== "auth") return refuse();
      const p = authenticate(req.token, gw.tokens);
      if (!p) {
        ctx.log.warn({ remote: (ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress }, "console connection with an invalid token");
        return ws.close(CLOSE_UNAUTHORIZED, "invalid token");
      }
      principal = p;
      if (timer) clearTimeout(timer);
      ctx.send({ type: "authenticated", id: req.id, user: p.name, role: p.role });
    },
    stop() {
      if (timer) clearTimeout(timer);
    },
  };
}
