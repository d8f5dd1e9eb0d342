import type { Logger } from "@vigil/events";
import type { WebSocket } from "ws";
import type { Gateway } from "./gateway.js";
import type { ErrorCode } from "./protocol.js";

/** What every part of one WebSocket session shares (session.ts): its socket, the gateway, and how it answers. */
export interface SessionContext {
  ws: WebSocket;
  gw: Gateway;
  log: Logger;
  /** Set once the socket has closed: nothing is sent after it, and running work stops. */
  closed: boolean;
  /** Sends one JSON frame, unless the socket is closed or closing. */
  send(obj: unknown): void;
  /** Answers a request with `{type:"error", id, code, message, retryAfterMs?}`; the connection stays open. */
  error(id: string | null, code: ErrorCode, message: string, retryAfterMs?: number): void;
}

export function createSessionContext(ws: WebSocket, gw: Gateway, log: Logger): SessionContext {
  const ctx: SessionContext = {
    ws,
    gw,
    log,
    closed: false,
    send(obj) {
      if (!ctx.closed && ws.readyState === ws.OPEN) ws.send(JSON.stringify(obj));
    },
    error(id, code, message, retryAfterMs) {
      ctx.send({ type: "error", id, code, message, ...(retryAfterMs ? { retryAfterMs } : {}) });
    },
  };
  return ctx;
}
