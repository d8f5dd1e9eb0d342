import { hashToken, sameDigest, type GatewayToken } from "@vigil/events";

export type Role = GatewayToken["role"];

/** Who a request or connection is, once its token matched a configured one. */
export interface Principal {
  name: string;
  role: Role;
}

/** Looks the token up by its SHA-256 (constant-time per entry); undefined when nothing matches. */
export function authenticate(token: string | undefined, tokens: readonly GatewayToken[]): Principal | undefined {
  if (!token || token.length > 512) return undefined;
  const digest = hashToken(token);
  let found: Principal | undefined;
  // Compare against every entry, so the time taken does not depend on which one matched.
  for (const t of tokens) if (sameDigest(digest, t.sha256) && !found) found = { name: t.name, role: t.role };
  return found;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}

export function canCommand(p: Principal): boolean {
  return p.role === "operator";
}

/**
 * A browser request is allowed from the gateway's own origin (same host and port) or a configured one.
 * Requests without an Origin header (curl, the CLI) are not from a page, so there is nothing to forge;
 * they still need a token.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  if (!host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}
