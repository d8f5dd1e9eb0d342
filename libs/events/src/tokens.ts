import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The SHA-256 (hex) of a token: what `gateway.tokens[].sha256` holds, never the token itself. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random token: 32 bytes, base64url (safe in headers, URLs and WebSocket subprotocols). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Where the local operator token lives when the config declares no gateway tokens. */
export function localTokenFile(dataDir: string): string {
  return join(dataDir, "gateway.token");
}

/** The address the running gateway listens on (it may have picked a free port). */
export function gatewayInfoFile(dataDir: string): string {
  return join(dataDir, "gateway.json");
}

export const LOCAL_TOKEN_NAME = "local-operator";

/**
 * Reads the local operator token of this data dir, creating it (mode 0600) when missing. Used when the
 * config declares no tokens, so `vigil up` works out of the box and the CLI on the same machine (which
 * can read the data dir) is authorised without copying a secret around.
 */
export function ensureLocalToken(dataDir: string): string {
  const file = localTokenFile(dataDir);
  try {
    const t = readFileSync(file, "utf8").trim();
    if (t.length >= 16) return t;
  } catch {
    // missing: create below
  }
  mkdirSync(dataDir, { recursive: true });
  const t = newToken();
  try {
    writeFileSync(file, t + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Created by another process (vigil up and the gateway) at the same moment: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
    throw err;
  }
  chmodSync(file, 0o600);
  return t;
}

/** The local token if one exists (never creates it). */
export function readLocalToken(dataDir: string): string | undefined {
  try {
    const t = readFileSync(localTokenFile(dataDir), "utf8").trim();
    return t.length >= 16 ? t : undefined;
  } catch {
    return undefined;
  }
}
