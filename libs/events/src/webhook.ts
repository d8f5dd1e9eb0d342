import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { CLOUDEVENTS_CONTENT_TYPE } from "./envelope.js";

/**
 * Alert webhooks (docs/unattended.md, "Alerts"): a CloudEvents 1.0 JSON body, signed with
 * HMAC-SHA256 over `<timestamp>.<body>`. Shared by the alerts service and `vigil alerts test`, and
 * `verifyWebhook` is what a receiver does (the tests use it; docs show the same in a few lines).
 *
 * Headers: `X-Vigil-Timestamp` (unix seconds), `X-Vigil-Delivery` (one id per alert and target, the
 * same on every retry: a receiver that has processed it answers 2xx and drops it),
 * `X-Vigil-Signature: sha256=<hex>`.
 */

export const SIGNATURE_HEADER = "x-vigil-signature";
export const TIMESTAMP_HEADER = "x-vigil-timestamp";
export const DELIVERY_HEADER = "x-vigil-delivery";

export interface AlertCloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: "application/json";
  data: Record<string, unknown>;
}

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function webhookHeaders(secret: string, body: string, deliveryId: string, now = Date.now()): Record<string, string> {
  const ts = Math.floor(now / 1000);
  return {
    "content-type": CLOUDEVENTS_CONTENT_TYPE,
    [TIMESTAMP_HEADER]: String(ts),
    [DELIVERY_HEADER]: deliveryId,
    [SIGNATURE_HEADER]: signWebhook(secret, ts, body),
  };
}

export type WebhookVerdict = { ok: true; deliveryId: string } | { ok: false; reason: "signature" | "stale" | "replay" | "headers" };

/**
 * A receiver's checks: the signature over `<timestamp>.<body>`, a timestamp within `toleranceS` of
 * now (an old capture is refused), and a delivery id not seen before (`seen` is the receiver's memory
 * of processed ids; keep it at least as long as the tolerance).
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  o: { seen: Set<string>; now?: number; toleranceS?: number },
): WebhookVerdict {
  const h = (n: string) => {
    const v = headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const ts = Number(h(TIMESTAMP_HEADER));
  const sig = h(SIGNATURE_HEADER);
  const id = h(DELIVERY_HEADER);
  if (!Number.isInteger(ts) || !sig || !id) return { ok: false, reason: "headers" };
  const want = Buffer.from(signWebhook(secret, ts, body));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: "signature" };
  if (Math.abs((o.now ?? Date.now()) / 1000 - ts) > (o.toleranceS ?? 300)) return { ok: false, reason: "stale" };
  if (o.seen.has(id)) return { ok: false, reason: "replay" };
  o.seen.add(id);
  return { ok: true, deliveryId: id };
}

export interface WebhookResult {
  ok: boolean;
  status?: number;
  /** Why it failed: connection refused, timeout, a non-2xx status, a reply that is not HTTP … */
  error?: string;
}

/** One delivery attempt: POST, wait at most `timeoutMs`, any 2xx is success (the body is not read further). */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<WebhookResult> {
  try {
    const res = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, error: String(why).slice(0, 1024) };
  }
}

export const newDeliveryId = (): string => randomUUID();
