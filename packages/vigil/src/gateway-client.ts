import { readFileSync } from "node:fs";
import { gatewayInfoFile, localTokenFile, readLocalToken, type VigilConfig } from "@vigil/events";
import { runningSystem } from "./connect.js";
import { UsageError } from "./embedded-nats.js";

export interface GatewayTarget {
  config?: string;
  /** --data-dir: the running `vigil up`'s data dir (gateway.json and the local token are there). */
  dataDir?: string;
  /** --gateway */
  gateway?: string;
  /** --token */
  token?: string;
}

export interface GatewayClient {
  url: string;
  config: VigilConfig;
  get<T = any>(path: string): Promise<T>;
  post<T = any>(path: string, body: unknown): Promise<{ status: number; body: T }>;
}

function gatewayFile(dataDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(gatewayInfoFile(dataDir), "utf8")) as { url?: string }).url;
  } catch {
    return undefined;
  }
}

/**
 * Finds the gateway and the token: --gateway, VIGIL_GATEWAY_URL, the address the running gateway wrote
 * in the data dir, else http://127.0.0.1:<gateway.port>; --token, VIGIL_TOKEN, else the local operator
 * token in the data dir (only there when the config declares no tokens).
 */
export function gatewayClient(o: GatewayTarget): GatewayClient {
  const { config } = runningSystem(o);
  const url = (o.gateway || process.env.VIGIL_GATEWAY_URL || gatewayFile(config.dataDir) || `http://127.0.0.1:${config.gateway.port || 8080}`).replace(/\/+$/, "");
  const token = o.token || process.env.VIGIL_TOKEN || readLocalToken(config.dataDir);
  if (!token) throw new UsageError("no token: pass --token <token> or set VIGIL_TOKEN (a token from gateway.tokens in the config)");
  const headers = { Authorization: `Bearer ${token}` };

  async function call(path: string, init: RequestInit): Promise<{ status: number; body: any }> {
    let res: Response;
    try {
      res = await fetch(url + path, { ...init, headers: { ...headers, ...(init.body ? { "Content-Type": "application/json" } : {}) } });
    } catch (err) {
      throw new UsageError(`cannot reach the gateway at ${url} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}). Is Vigil running? Pass --gateway <url> or set VIGIL_GATEWAY_URL.`, 1);
    }
    const text = await res.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = { error: { message: text.slice(0, 200) } };
    }
    if (res.status === 401) throw new UsageError(`the gateway at ${url} refused the token (401)${o.token || process.env.VIGIL_TOKEN ? ": check --token / VIGIL_TOKEN" : ` from ${localTokenFile(config.dataDir)}: pass --data-dir <the running vigil up's data dir>, or --token`}`, 1);
    if (res.status === 403) throw new UsageError(`refused (403): ${body?.error?.message ?? "forbidden"}`, 1);
    return { status: res.status, body };
  }

  return {
    url,
    config,
    async get(path) {
      const r = await call(path, { method: "GET" });
      if (r.status >= 400) throw new UsageError(`${path}: ${r.body?.error?.message ?? `HTTP ${r.status}`}`, r.status === 404 ? 2 : 1);
      return r.body;
    },
    post: (path, body) => call(path, { method: "POST", body: JSON.stringify(body) }),
  };
}
