import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, is } from "@vigil/events";
import { freePort, startNatsServer, watchEvents, type EventLog, type TestNatsServer } from "@vigil/events/testing";
import type { NatsConnection } from "@nats-io/transport-node";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";
import type { BusUser } from "./bus-auth.js";
import { hubAuthorizationBlock, hubUsers, OPERATOR_USER } from "./fleet-hub-auth.js";

/** Shared by the deployment e2e tests: a hub with a leafnode listener, `vigil up` devices on it, and a link that can be cut. */

export interface Hub extends TestNatsServer {
  leafPort: number;
  /** The operator's login (with `devices`): for connectBus and, as VIGIL_FLEET_USER/PASS, for `vigil fleet`. */
  operator?: { user: string; pass: string };
  operatorEnv: NodeJS.ProcessEnv;
  /** Each device's own hub user (with `devices`): its fleet.user / fleet.pass. */
  deviceLogins: Record<string, { user: string; pass: string }>;
}

/**
 * `advertise`: the leafnode URL the hub tells its leaves. A leaf adds the hub's advertised URL to the ones
 * it reconnects to, so a device whose link runs through a relay would reconnect around it when the
 * relay is cut (seen on 2.9.10: the "offline" device got the deployment; `no_advertise` does not stop it).
 * `devices`: the hub gets one user per device (fleet-hub-auth.ts, as `vigil fleet hub-auth` writes them)
 * and an operator; its leafnodes {} has no authorization, so each link logs in as its device's user.
 */
export async function startHub(o: { leafPort?: number; advertise?: string; devices?: string[] } = {}): Promise<Hub> {
  const leafPort = o.leafPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "vigil-hub-"));
  const conf = join(dir, "hub.conf");
  const advertise = o.advertise ? `, advertise: "${o.advertise}"` : "";
  const users = o.devices ? hubUsers(o.devices, "hub") : [];
  const auth = users.length ? `${hubAuthorizationBlock(users)}\n` : "";
  writeFileSync(conf, `jetstream { domain: hub }\nleafnodes { listen: "127.0.0.1:${leafPort}"${advertise} }\n${auth}`);
  const login = (u: BusUser) => ({ user: u.user, pass: u.pass });
  const operator = users.find((u) => u.user === OPERATOR_USER);
  const deviceLogins = Object.fromEntries(users.filter((u) => u.permissions).map((u) => [u.user, login(u)]));
  const operatorEnv = operator ? { VIGIL_FLEET_USER: operator.user, VIGIL_FLEET_PASS: operator.pass } : {};
  return Object.assign(await startNatsServer({ args: ["-c", conf] }), { leafPort, operator: operator && login(operator), operatorEnv, deviceLogins });
}

export interface Device {
  id: string;
  vigil: Awaited<ReturnType<typeof vigilUpEmbedded>>;
  nc: NatsConnection;
  events: EventLog;
}

/** The pid of the newest `obs.worker.started` of `worker` (only if it started at or after `after`). */
export const pidOf = (d: Device, worker: string, after = 0): number | undefined => {
  const e = d.events.events.filter((x) => is(x, "obs.worker.started") && (x.data as { worker: string }).worker === worker).at(-1);
  return e && Date.parse(e.time) >= after ? (e.data as { pid: number }).pid : undefined;
};

/** A device (`vigil up` with its embedded server as a leaf node of `leafUrl`) running `base` and the pinned `safety`. */
export async function startDevice(id: string, leafUrl: string, trust: string[], login?: { user: string; pass: string }): Promise<Device> {
  const cfg = writeConfig({
    device: id,
    labels: { site: "plant-3" },
    fleet: { hub: leafUrl, checkSeconds: 0.5, trust, pinned: ["safety"], ...(login ?? {}) },
    supervisor: { heartbeatMs: 1000 },
    health: { intervalMs: 60_000, anomaly: { enabled: false } },
    workers: [
      { name: "base", command: "sleep", args: ["600"] },
      { name: "safety", command: "sleep", args: ["600"] },
    ],
  });
  const vigil = await vigilUpEmbedded(cfg, await freePort());
  const nc = await connectBus(vigil.nats, "test");
  return { id, vigil, nc, events: await watchEvents(nc) };
}

export async function stopDevice(d: Device): Promise<void> {
  await d.events.close().catch(() => undefined);
  await d.nc.close().catch(() => undefined);
  await d.vigil.stop();
}

/**
 * A TCP relay between one device and the hub's leafnode port: `cut()` closes the listener and every
 * relayed connection (that device's link is down, the hub and the other devices are not), `restore()`
 * listens again on the same port (the device's server reconnects by itself).
 */
export interface LinkRelay {
  url: string;
  /** host:port, for the hub's leafnodes.advertise. */
  hostPort: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

export async function startLinkRelay(targetPort: number): Promise<LinkRelay> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((down) => {
        const up = connect(targetPort, "127.0.0.1");
        for (const s of [down, up]) {
          sockets.add(s);
          s.on("error", () => undefined);
          s.on("close", () => (sockets.delete(s), down.destroy(), up.destroy()));
        }
        down.pipe(up);
        up.pipe(down);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  await listen();
  return {
    url: `nats-leaf://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server ? server.close(() => resolve()) : resolve();
        server = undefined;
      }),
    restore: listen,
  };
}
