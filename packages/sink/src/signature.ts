import { createHmac, timingSafeEqual } from "node:crypto";

/** The header that carries the body's signature: `sha256=<hex of HMAC-SHA256(secret, body as sent)>`. */
export const SIGNATURE_HEADER = "x-vigil-signature";

export function sign(secret: string, body: Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Constant-time check of a signature header against the body as received (before gunzip). */
export function verify(secret: string, body: Uint8Array, header: string | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(sign(secret, body));
  const got = Buffer.from(header.trim());
  return got.length === want.length && timingSafeEqual(got, want);
}
