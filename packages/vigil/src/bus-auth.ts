import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_USER, inboxPrefixFor, permissionsFor, type BusPermissions, type VigilConfig } from "@vigil/events";

/**
 * Per-service NATS users for the server `vigil up` embeds (docs/security.md): random passwords,
 * written to <dataDir>/creds/<user>.json (mode 0600) and into the server's 0600 config file in plain
 * text — acceptable on the device itself, where both files are readable only by the account running
 * Vigil; whoever can read them can run Vigil anyway.
 */

export interface BusCredential {
  user: string;
  pass: string;
  /** Replies to this user arrive under this prefix; absent for admin (it reads `_INBOX.>`). */
  inboxPrefix?: string;
}

export interface BusUser extends BusCredential {
  /** Absent: every right (admin). */
  permissions?: BusPermissions;
}

export const credsDir = (dataDir: string) => join(dataDir, "creds");
export const credsFile = (dataDir: string, user: string) => join(credsDir(dataDir), `${user}.json`);

/** The users of one `vigil up` run: admin plus one per service, each with a fresh password. */
export function busUsers(config: VigilConfig, services: readonly string[], newPassword: () => string = () => randomBytes(24).toString("base64url"), streamManager?: string): BusUser[] {
  const scope = { device: config.device, stream: config.stream.name, telemetryDurable: config.telemetry.durable, alertsDurable: config.alerts.durable, streamManager };
  return [
    { user: ADMIN_USER, pass: newPassword() },
    ...services.map((s) => ({ user: s, pass: newPassword(), inboxPrefix: inboxPrefixFor(s), permissions: permissionsFor(s, scope) })),
  ];
}

/** nats-server's config syntax takes JSON strings (quoted: `$JS…` is not read as a variable). */
const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;

/** The `authorization` block of the server config (pure). */
export function authorizationBlock(users: BusUser[]): string {
  const lines = ["authorization {", "  users: ["];
  for (const u of users) {
    if (!u.permissions) {
      lines.push(`    { user: ${q(u.user)}, password: ${q(u.pass)} }`);
      continue;
    }
    const p = u.permissions;
    lines.push(
      `    { user: ${q(u.user)}, password: ${q(u.pass)}, permissions: {`,
      `        publish: { allow: ${list(p.publish.allow)}${p.publish.deny.length ? `, deny: ${list(p.publish.deny)}` : ""} }`,
      `        subscribe: { allow: ${list(p.subscribe.allow)}${p.subscribe.deny.length ? `, deny: ${list(p.subscribe.deny)}` : ""} }`,
      "    } }",
    );
  }
  lines.push("  ]", "}");
  return lines.join("\n");
}

/** The embedded server's config without a fleet uplink: what the command-line flags used to say, plus the users. */
export function plainServerConfig(o: { device: string; port: number; storeDir: string; users: BusUser[] }): string {
  return [
    "# Written by `vigil up` at every start; edits here are lost.",
    `server_name: ${q(`vigil-${o.device}`)}`,
    `listen: ${q(`127.0.0.1:${o.port}`)}`,
    "jetstream {",
    `  store_dir: ${q(o.storeDir)}`,
    "}",
    authorizationBlock(o.users),
    "",
  ].join("\n");
}

/** Writes each user's credential file (0600, in a 0700 folder). */
export function writeCredentials(dataDir: string, users: BusUser[]): void {
  mkdirSync(credsDir(dataDir), { recursive: true, mode: 0o700 });
  chmodSync(credsDir(dataDir), 0o700);
  for (const u of users) {
    const file = credsFile(dataDir, u.user);
    const c: BusCredential = { user: u.user, pass: u.pass, ...(u.inboxPrefix ? { inboxPrefix: u.inboxPrefix } : {}) };
    writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600); // an existing file keeps its mode otherwise
  }
}

/** A user's credential from the data dir, if `vigil up` wrote one. */
export function readCredential(dataDir: string, user: string): BusCredential | undefined {
  const file = credsFile(dataDir, user);
  if (!existsSync(file)) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, "utf8")) as BusCredential;
    return typeof c.user === "string" && typeof c.pass === "string" ? c : undefined;
  } catch {
    return undefined;
  }
}

/** The environment that makes a service connect as its own user. */
export function credentialEnv(c: BusCredential): NodeJS.ProcessEnv {
  return { VIGIL_NATS_USER: c.user, VIGIL_NATS_PASS: c.pass, ...(c.inboxPrefix ? { VIGIL_NATS_INBOX_PREFIX: c.inboxPrefix } : {}) };
}

/** The server config for a container deployment (compose.auth.yaml): all interfaces, store in /data, monitoring on 8222. */
export function composeServerConfig(users: BusUser[], o: { listen?: string; http?: string; storeDir?: string } = {}): string {
  return [
    "# Written by `vigil bus-auth` (docs/security.md); run it again to change every password.",
    `listen: ${q(o.listen ?? "0.0.0.0:4222")}`,
    `http: ${q(o.http ?? "0.0.0.0:8222")}`,
    "jetstream {",
    `  store_dir: ${q(o.storeDir ?? "/data")}`,
    "}",
    authorizationBlock(users),
    "",
  ].join("\n");
}

/** Under compose no `vigil up` sets the stream up as admin: this service may create it. */
const STREAM_MANAGER = "decider";

/** One `KEY=value` line each: an env_file for compose. */
export function envFile(env: NodeJS.ProcessEnv): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n") + "\n";
}

/**
 * `vigil bus-auth [--out dir]`: the same users for a server Vigil does not start (compose): the
 * server config and one env file per service (VIGIL_NATS_USER/PASS/INBOX_PREFIX), all mode 0600.
 */
export function writeBusAuth(config: VigilConfig, services: readonly string[], outDir: string, server: Parameters<typeof composeServerConfig>[1] = {}): string[] {
  // No `vigil up` runs there to set the stream up as admin first: the decider may (and only it).
  const users = busUsers(config, services, undefined, STREAM_MANAGER);
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    const file = join(outDir, name);
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
    written.push(file);
  };
  write("nats-server.conf", composeServerConfig(users, server));
  // Only the decider (and admin) may create the stream: the others wait for it rather than try.
  for (const u of users) write(`${u.user}.env`, envFile({ ...credentialEnv(u), ...(u.user === STREAM_MANAGER || u.user === ADMIN_USER ? {} : { VIGIL_STREAM_SETUP: "wait" }) }));
  return written;
}
