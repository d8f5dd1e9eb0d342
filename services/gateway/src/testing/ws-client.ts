import WebSocket from "ws";

export interface TestClient {
  ws: WebSocket;
  messages: any[];
  /** Resolves with the first message (already received or to come) that matches. */
  waitFor(what: string, pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  send(obj: unknown): void;
  close(): void;
}

/** A WebSocket client for tests that keeps every message it receives. */
export function connectClient(url: string, opts: { token?: string; origin?: string } = {}): Promise<TestClient> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.origin) headers.Origin = opts.origin;
  const ws = new WebSocket(url, { headers });
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (d) => {
    messages.push(JSON.parse(d.toString()));
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  const client: TestClient = {
    ws,
    messages,
    closed,
    waitFor(what, pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (m !== undefined) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(m);
            return true;
          }
          return false;
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; last messages: ${JSON.stringify(messages.slice(-5)).slice(0, 1500)}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    send: (obj) => ws.send(typeof obj === "string" ? obj : JSON.stringify(obj)),
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once("error", reject);
  });
}
