import { hashToken, newToken } from "@vigil/events";
import { stringify } from "yaml";
import { UsageError } from "./embedded-nats.js";

/**
 * `vigil token hash <token>` prints the SHA-256 to put in `gateway.tokens[].sha256`;
 * `vigil token new [--name n] [--role viewer|operator]` makes a random token and prints it with the
 * config entry (the token itself is shown once and stored nowhere).
 */
export function token(args: string[], o: { name?: string; role?: string; json: boolean }): number {
  const [sub, value] = args;
  if (sub === "hash") {
    const t = value ?? process.env.VIGIL_TOKEN;
    if (!t) throw new UsageError("usage: vigil token hash <token>   (or with VIGIL_TOKEN set)");
    process.stdout.write(hashToken(t) + "\n");
    return 0;
  }
  if (sub === "new") {
    const role = o.role ?? "viewer";
    if (role !== "viewer" && role !== "operator") throw new UsageError(`--role "${role}": viewer or operator`);
    const name = o.name ?? `${role}-${Date.now().toString(36)}`;
    const t = newToken();
    const entry = { name, role, sha256: hashToken(t) };
    if (o.json) process.stdout.write(JSON.stringify({ token: t, ...entry }) + "\n");
    else process.stdout.write(`token (shown once, keep it secret): ${t}\n\nadd to vigil.yaml:\n${stringify({ gateway: { tokens: [entry] } })}`);
    return 0;
  }
  throw new UsageError("usage: vigil token hash <token> | vigil token new [--name <name>] [--role viewer|operator]");
}
