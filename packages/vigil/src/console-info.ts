import { ensureLocalToken, localTokenFile, type VigilConfig } from "@vigil/events";

/**
 * What `vigil up` prints about the console. With no tokens in the config it makes sure the local
 * operator token exists (before the gateway starts, so both use the same one). On a terminal it prints
 * the page's address with the token in the URL's #fragment (which browsers never send to a server);
 * anywhere else (journald, docker logs, a file) only where the token is: logs are kept and shared.
 */
export function consoleBanner(config: VigilConfig, o: { tty: boolean }): string {
  const g = config.gateway;
  const host = g.bind === "0.0.0.0" || g.bind === "::" ? "127.0.0.1" : g.bind.includes(":") ? `[${g.bind}]` : g.bind;
  const url = g.port === 0 ? "the address in gateway.json (gateway.port is 0)" : `http://${host}:${g.port}/`;
  if (g.tokens.length > 0) return `console ${url} (sign in with a token from gateway.tokens)`;
  const token = ensureLocalToken(config.dataDir);
  const file = localTokenFile(config.dataDir);
  if (!o.tty || g.port === 0) return `console ${url} (sign in with the local operator token in ${file}; not printed here${o.tty ? "" : ": stdout is not a terminal"})\n       vigil restart|workers|… use it`;
  return `console ${url}#token=${token}\n       local operator token (no gateway.tokens configured): ${file}; vigil restart|workers|… use it`;
}
