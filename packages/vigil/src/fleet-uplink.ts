import { closeSync, openSync, readSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { createPublisher, type FleetConfig, type VigilConfig } from "@vigil/events";
import { startDeployer, type Deployer } from "./deploy-agent.js";
import { leafLinkFilter } from "./fleet-link-filter.js";

/**
 * The edge half of the fleet (docs/fleet.md): the embedded nats-server's config for a leaf node in
 * its own JetStream domain, and a watcher that reports the leaf connection as `sys.fleet.uplink`.
 */


export interface LeafServerOptions {
  device: string;
  /** Client port, on 127.0.0.1. */
  port: number;
  /** Monitoring port, on 127.0.0.1 (/leafz). */
  monitorPort: number;
  /** JetStream store (the same folder `-sd` gets without a fleet). */
  storeDir: string;
  /** Folder relative credential/TLS paths resolve against (the config file's). */
  configDir: string;
  fleet: FleetConfig;
}

/** nats-server's config syntax takes JSON strings. */
const q = (s: string) => JSON.stringify(s);

export function domainOf(device: string, fleet: FleetConfig): string {
  return fleet.domain ?? device;
}

/** The hub URLs with the leaf user/password put in (URL-encoded); only ever written to the 0600 config file. */
export function leafUrls(fleet: FleetConfig): string[] {
  if (!fleet.user || !fleet.pass) return fleet.hub;
  const auth = `${encodeURIComponent(fleet.user)}:${encodeURIComponent(fleet.pass)}@`;
  return fleet.hub.map((u) => u.replace(/^([a-z-]+:\/\/)/, `$1${auth}`));
}

/** The embedded server's config file for a device with a fleet uplink (pure; `vigil up` writes it to <dataDir>/nats-server.conf). */
export function leafServerConfig(o: LeafServerOptions): string {
  const path = (p: string) => q(resolve(o.configDir, p));
  const remote: string[] = [`      urls: [${leafUrls(o.fleet).map(q).join(", ")}]`];
  if (o.fleet.credentials) remote.push(`      credentials: ${path(o.fleet.credentials)}`);
  if (o.fleet.tls) {
    const t = o.fleet.tls;
    const tls = [t.ca && `ca_file: ${path(t.ca)}`, t.cert && `cert_file: ${path(t.cert)}`, t.key && `key_file: ${path(t.key)}`].filter(Boolean);
    remote.push(`      tls { ${tls.join(", ")} }`);
  }
  const filter = leafLinkFilter(domainOf(o.device, o.fleet), o.fleet.hubDomain);
  remote.push(`      deny_imports: [${filter.denyImports.map(q).join(", ")}]`, `      deny_exports: [${filter.denyExports.map(q).join(", ")}]`);
  return [
    "# Written by `vigil up` from vigil.yaml's fleet section at every start; edits here are lost.",
    `server_name: ${q(`vigil-${o.device}`)}`,
    `listen: ${q(`127.0.0.1:${o.port}`)}`,
    `http: ${q(`127.0.0.1:${o.monitorPort}`)}`,
    "jetstream {",
    `  store_dir: ${q(o.storeDir)}`,
    `  domain: ${q(domainOf(o.device, o.fleet))}`,
    "}",
    "leafnodes {",
    "  remotes: [",
    "    {",
    ...remote,
    "    }",
    "  ]",
    "}",
    "",
  ].join("\n");
}

/** Writes the config (mode 0600: it may hold the leaf password) and returns its path and monitoring port. */
export async function writeLeafServerConfig(config: VigilConfig, port: number, /** Appended: the users' `authorization` block (bus-auth.ts). */ extra = ""): Promise<{ file: string; monitorPort: number }> {
  const fleet = config.fleet!;
  const monitorPort = fleet.monitorPort || (await freeLoopbackPort());
  const file = join(config.dataDir, "nats-server.conf");
  const text = leafServerConfig({ device: config.device, port, monitorPort, storeDir: join(config.dataDir, "nats"), configDir: config.configDir, fleet }) + (extra ? `${extra}\n` : "");
  writeFileSync(file, text, { mode: 0o600 });
  return { file, monitorPort };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => ok(typeof a === "object" && a ? a.port : 0));
    });
  });
}

// ---- the uplink state: a pure decision over observations ----

export interface UplinkObservation {
  /** When it was observed (ms since epoch). */
  at: number;
  connected: boolean;
  /** The last leafnode error the server logged since the previous observation. */
  error?: string;
}

export interface UplinkState {
  state: "unknown" | "connected" | "disconnected";
  since: number;
  /** A not-connected observation without an error, not yet reported (the first connect may still be under way). */
  pendingDown: boolean;
  lastError?: string;
}

export const initialUplinkState = (at: number): UplinkState => ({ state: "unknown", since: at, pendingDown: false });

export interface UplinkChange {
  state: "connected" | "disconnected";
  error?: string;
  previousMs?: number;
}

/**
 * Reports a change of the leaf connection once: connected as soon as it is; disconnected when an
 * error is seen, or when it is still down one check later (so a slow first connect is not an outage).
 */
export function decideUplink(s: UplinkState, o: UplinkObservation): { state: UplinkState; change?: UplinkChange } {
  const lastError = o.error ?? s.lastError;
  const previousMs = s.state === "unknown" ? undefined : Math.max(0, o.at - s.since);
  if (o.connected) {
    if (s.state === "connected") return { state: { ...s, pendingDown: false } };
    return { state: { state: "connected", since: o.at, pendingDown: false }, change: { state: "connected", previousMs } };
  }
  if (s.state === "disconnected") return { state: { ...s, lastError } };
  if (!o.error && !s.pendingDown) return { state: { ...s, pendingDown: true, lastError } };
  const error = lastError ?? "no leaf connection to the hub";
  return { state: { state: "disconnected", since: o.at, pendingDown: false, lastError }, change: { state: "disconnected", error, previousMs } };
}

/** The message of the last leafnode error line of a nats-server log chunk, e.g. `Leafnode Error 'Authorization Violation'`. */
export function lastLeafError(logChunk: string): string | undefined {
  let found: string | undefined;
  for (const line of logChunk.split("\n")) {
    if (!/\[(ERR|WRN)\]/.test(line) || !/leaf/i.test(line)) continue;
    found = line.replace(/^.*?\[(ERR|WRN)\]\s*/, "").replace(/ - lid:\d+ - /, ": ").replace(/\/\/[^/@\s"]*@/g, "//***@").trim();
  }
  return found;
}

// ---- the shell ----

export interface UplinkWatch {
  stop(): Promise<void>;
}

/** Polls the embedded server's /leafz and its log; publishes sys.fleet.uplink and prints a line on every change. */
export async function startUplinkWatch(
  nc: NatsConnection,
  config: VigilConfig,
  server: { monitorUrl: string; logFile: string },
  say: (msg: string) => void,
): Promise<UplinkWatch> {
  const fleet = config.fleet!;
  const domain = domainOf(config.device, fleet);
  const pub = await createPublisher(nc, { device: config.device, source: `vigil/${config.device}/up` });
  // From this run's start in the (appended) log: an error logged while the server started counts.
  const size0 = fileSize(server.logFile);
  const base = Math.max(0, size0 - 256 * 1024);
  const tail = readFrom(server.logFile, base, size0);
  const startAt = tail.lastIndexOf("Starting nats-server");
  let logOffset = startAt >= 0 ? base + Buffer.byteLength(tail.slice(0, startAt)) : size0;
  let state = initialUplinkState(Date.now());
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  async function observe(): Promise<UplinkObservation> {
    let connected = false;
    try {
      const r = await fetch(`${server.monitorUrl}/leafz`, { signal: AbortSignal.timeout(2_000) });
      const body = (await r.json()) as { leafnodes?: number };
      connected = (body.leafnodes ?? 0) > 0;
    } catch {
      /* the server is restarting: counts as not connected */
    }
    const size = fileSize(server.logFile);
    if (size < logOffset) logOffset = 0; // rotated
    const chunk = readFrom(server.logFile, logOffset, size);
    logOffset = size;
    return { at: Date.now(), connected, error: connected ? undefined : lastLeafError(chunk) };
  }

  async function check(): Promise<void> {
    const next = decideUplink(state, await observe());
    state = next.state;
    const c = next.change;
    if (!c || stopped) return;
    say(c.state === "connected" ? `fleet uplink connected to ${fleet.hub.join(", ")} (domain ${domain})` : `fleet uplink to ${fleet.hub.join(", ")} is DOWN: ${c.error} — local healing continues; events wait in the VIGIL stream`);
    try {
      await pub.emit("sys.fleet.uplink", { state: c.state, hub: fleet.hub, domain, error: c.error, previousMs: c.previousMs });
    } catch (err) {
      say(`could not record sys.fleet.uplink: ${(err as Error).message}`);
    }
  }

  const timer = setInterval(() => {
    running = running.then(check).catch(() => undefined);
  }, fleet.checkSeconds * 1000);
  running = check().catch(() => undefined);
  // Deployments and remote commands from the hub (deploy-agent.ts): only on a device with a fleet uplink.
  let deployer: Deployer | undefined;
  try {
    deployer = await startDeployer(nc, config, say);
  } catch (err) {
    say(`fleet: deployments from the hub are off: ${(err as Error).message}`);
  }
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await deployer?.stop();
      await running;
      await pub.close();
    },
  };
}

function fileSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
}

function readFrom(f: string, from: number, to: number): string {
  if (to <= from) return "";
  const len = Math.min(to - from, 256 * 1024);
  const buf = Buffer.alloc(len);
  const fd = openSync(f, "r");
  try {
    readSync(fd, buf, 0, len, to - len);
  } finally {
    closeSync(fd);
  }
  return buf.toString("utf8");
}
