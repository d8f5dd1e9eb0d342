import { createServer, type Server } from "node:http";
import { rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { ensureLocalToken, gatewayInfoFile, localTokenFile, type ServiceContext } from "@vigil/events";
import { WebSocketServer } from "ws";
import { authenticate, bearerToken, originAllowed } from "./auth.js";
import { createGateway, effectiveTokens, type Gateway } from "./gateway.js";
import { createHttpHandler } from "./http.js";
import { startHub } from "./hub.js";
import { startSession } from "./session.js";

export interface GatewayInfo {
  url: string;
  port: number;
  pid: number;
}

export interface GatewayServiceOptions {
  /** Called once listening (tests read the port from here). */
  onListening?: (info: GatewayInfo, gw: Gateway) => void;
}

function reject(socket: import("node:stream").Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  const head = Object.entries({ "Content-Type": "text/plain", "Content-Length": String(Buffer.byteLength(text)), Connection: "close", ...headers })
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n");
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : "Not Found"}\r\n${head}\r\n\r\n${text}`);
}

/**
 * The console: HTTP API, Prometheus metrics, the web page and the WebSocket feed, over one view of the
 * bus. Listens on `gateway.bind:gateway.port` and writes the address to `<dataDir>/gateway.json`.
 */
export async function startGateway(ctx: ServiceContext, opts: GatewayServiceOptions = {}): Promise<() => Promise<void>> {
  const { config, log, nc, publisher } = ctx;
  const g = config.gateway;
  const local = g.tokens.length === 0 ? ensureLocalToken(config.dataDir) : undefined;
  const tokens = effectiveTokens(config, local);
  const hub = await startHub(nc, config, log);
  const gw = createGateway({ nc, config, hub, publisher, log, tokens });
  const server: Server = createServer(createHttpHandler(gw, log));
  // Requests Node cannot even parse still get the API's JSON error shape, then the connection closes.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === "ECONNRESET") return socket.destroy();
    // The request's head was fine and it has its answer (a 401, say) when its body turns out broken
    // (a bad chunk): a second, unsolicited answer would only confuse the client. Just close.
    if ((socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) return void socket.end();
    const body = JSON.stringify({ error: { code: "bad_request", message: `malformed HTTP request: ${err.code ?? err.message}` } });
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: g.maxFrameBytes, perMessageDeflate: false });

  server.on("upgrade", (req, socket, head) => {
    socket.on("error", () => undefined);
    const path = new URL(req.url ?? "/", "http://gateway.invalid").pathname;
    if (path !== "/ws") return reject(socket, 404, "the console's WebSocket is at /ws");
    if (!originAllowed(req.headers.origin, req.headers.host, g.allowedOrigins)) {
      log.warn({ origin: req.headers.origin }, "WebSocket from a foreign origin refused");
      return reject(socket, 403, `origin ${req.headers.origin} is not allowed (gateway.allowedOrigins)`);
    }
    // A token in the Authorization header is checked now; browsers, which cannot set it, authenticate
    // with their first frame instead ({op:"auth"}), or are closed with 4401.
    const header = req.headers.authorization;
    const principal = header ? authenticate(bearerToken(header), tokens) : undefined;
    if (header && !principal) return reject(socket, 401, "the token is not valid", { "WWW-Authenticate": 'Bearer realm="vigil"' });
    wss.handleUpgrade(req, socket, head, (ws) => startSession(ws, gw, principal, log));
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(g.port, g.bind, () => {
      server.off("error", rejectListen);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const info: GatewayInfo = { url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`, port: addr.port, pid: process.pid };
  try {
    writeFileSync(gatewayInfoFile(config.dataDir), JSON.stringify(info, null, 2));
  } catch (err) {
    log.warn({ err: (err as Error).message }, "could not write gateway.json");
  }
  log.info({ url: info.url, tokens: tokens.length, ...(local ? { localToken: localTokenFile(config.dataDir) } : {}) }, `console at ${info.url}/`);
  opts.onListening?.(info, gw);

  return async () => {
    for (const c of wss.clients) c.close(1001, "gateway stopping");
    wss.close();
    server.closeIdleConnections?.();
    await new Promise<void>((r) => {
      server.close(() => r());
      setTimeout(() => {
        server.closeAllConnections?.();
        for (const c of wss.clients) c.terminate();
      }, 2_000).unref();
    });
    await hub.stop();
    rmSync(gatewayInfoFile(config.dataDir), { force: true });
  };
}
