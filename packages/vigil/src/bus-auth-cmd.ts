import { resolve } from "node:path";
import { loadConfig } from "@vigil/events";
import { writeBusAuth } from "./bus-auth.js";
import { SERVICES } from "./paths.js";

/** `vigil bus-auth [--out <dir>]`: per-service NATS users for a server you run yourself (compose.auth.yaml). */
export function busAuth(o: { config?: string; out?: string }): number {
  const config = loadConfig(o.config, process.env);
  const out = resolve(o.out ?? "deploy/bus");
  const files = writeBusAuth(config, SERVICES, out);
  process.stdout.write(`wrote ${files.length} files (mode 0600) for device ${config.device} to ${out}:\n${files.map((f) => `  ${f}`).join("\n")}\n` +
    `use them with: docker compose -f compose.yaml -f compose.auth.yaml up -d   (docs/security.md)\n`);
  return 0;
}
