import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamSource } from "@nats-io/jetstream";
import { decodeEvent, isNotFound, NameSchema, type VigilEvent } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { deploy, deployments, keygen, remote, type DeployOptions } from "./deploy-cli.js";
import { writeHubAuth } from "./fleet-hub-auth.js";
import { addSources, deviceOfSource, deviceReport, formatReports, removeSources, type DeviceReport } from "./fleet-core.js";

/**
 * `vigil fleet`: the cloud half of the fleet (docs/fleet.md). Against the hub's NATS, keeps one
 * stream (VIGIL_FLEET) that sources each registered device's VIGIL stream through the device's
 * JetStream domain, and reports per device what arrived.
 */

export const FLEET_STREAM = "VIGIL_FLEET";
export const ORIGIN_STREAM = "VIGIL";

export interface FleetOptions {
  hub?: string;
  stream?: string;
  json: boolean;
  deploy?: DeployOptions;
}

const REMOTE_OPS = ["restart", "stop", "start", "pause", "resume", "logs", "state"];

export const FLEET_USAGE = `vigil fleet add <device>… | remove <device>… | list | status [<device>…]
  --hub <url>        the hub's NATS client URL (default: $VIGIL_FLEET_URL); credentials from
                     $VIGIL_FLEET_USER/$VIGIL_FLEET_PASS, $VIGIL_FLEET_TOKEN or $VIGIL_FLEET_CREDS (a .creds file)
  --stream <name>    the fleet stream (default ${FLEET_STREAM})
  --json             machine-readable output
vigil fleet hub-auth <device>… [--out DIR]   one hub user per device (DIR/hub-users.conf, DIR/<user>.json; default fleet-auth)
vigil fleet keygen [--out operator.key]
vigil fleet deploy FILE --to dev-1,dev-2 | --select site=plant-3 --key KEY [--canary 1 --then 25% --then 100%] [--wait S]
vigil fleet deployments
vigil fleet restart|stop|start|pause|resume <device> <worker> --key KEY | logs <device> <worker> [--lines N] --key KEY | state <device> --key KEY`;

export async function fleet(args: string[], o: FleetOptions): Promise<number> {
  const [sub, ...devices] = args;
  if (sub === "keygen") return keygen(o.deploy ?? {});
  if (sub === "hub-auth") return hubAuth(devices, o.deploy?.out ?? "fleet-auth");
  if (sub === "deploy" || sub === "deployments" || REMOTE_OPS.includes(sub ?? "")) return deployCommand(sub!, devices, o);
  if (!sub || !["add", "remove", "list", "status"].includes(sub)) throw new UsageError(`fleet: say what to do.\n${FLEET_USAGE}`);
  if ((sub === "add" || sub === "remove") && devices.length === 0) throw new UsageError(`fleet ${sub}: name at least one device.\n${FLEET_USAGE}`);
  if (sub === "list" && devices.length) throw new UsageError(`fleet list takes no device (did you mean 'fleet status ${devices.join(" ")}'?)`);
  for (const d of devices) {
    if (!NameSchema.safeParse(d).success) throw new UsageError(`fleet ${sub}: device "${d}" must use only letters, digits, '_' and '-' (it is the device's JetStream domain)`);
  }
  const stream = o.stream ?? FLEET_STREAM;
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new UsageError(`--stream "${stream}": letters, digits, '_' and '-'`);
  const nc = await connectHub(o.hub ?? process.env.VIGIL_FLEET_URL);
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    if (sub === "add") return await change(jsm, stream, "add", devices, o.json);
    if (sub === "remove") return await change(jsm, stream, "remove", devices, o.json);
    const sources = await currentSources(jsm, stream);
    if (sources === undefined) {
      if (o.json) process.stdout.write(`${JSON.stringify({ stream, devices: [] })}\n`);
      else process.stdout.write(`no fleet stream ${stream} on the hub yet: add a device with 'vigil fleet add <device>'\n`);
      return 0;
    }
    if (sub === "list") {
      const names = sources.map(deviceOfSource).filter((d): d is string => !!d);
      process.stdout.write(o.json ? `${JSON.stringify({ stream, devices: names })}\n` : names.length ? `${names.join("\n")}\n` : "(no devices)\n");
      return 0;
    }
    const reports = await fleetStatus(nc, jsm, stream, devices);
    process.stdout.write(o.json ? `${JSON.stringify({ stream, devices: reports })}\n` : `${formatReports(reports, Date.now())}\n`);
    return 0;
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** Writes the hub's users (operator + one per device) without touching the hub: the operator includes the file in the hub's config. */
function hubAuth(devices: string[], outDir: string): number {
  if (devices.length === 0) throw new UsageError(`fleet hub-auth: name every device of the fleet.\n${FLEET_USAGE}`);
  for (const d of devices) {
    if (!NameSchema.safeParse(d).success) throw new UsageError(`fleet hub-auth: device "${d}" must use only letters, digits, '_' and '-'`);
  }
  const hubDomain = process.env.VIGIL_FLEET_HUB_DOMAIN || "hub";
  const written = writeHubAuth(devices, hubDomain, outDir);
  process.stdout.write(`${written.join("\n")}\ninclude ${outDir}/hub-users.conf in the hub's config (its leafnodes {} without authorization); give each device its <device>.json as fleet.user/fleet.pass\n`);
  return 0;
}

async function deployCommand(sub: string, args: string[], o: FleetOptions): Promise<number> {
  const stream = o.stream ?? FLEET_STREAM;
  const nc = await connectHub(o.hub ?? process.env.VIGIL_FLEET_URL);
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const fleetDevices = async () => ((await currentSources(jsm, stream)) ?? []).map(deviceOfSource).filter((d): d is string => !!d);
    if (sub === "deploy") return await deploy(nc, args[0], fleetDevices, o.deploy ?? {}, stream);
    if (sub === "deployments") return await deployments(nc, stream, args.length ? args : await fleetDevices(), o.json);
    return await remote(nc, sub, args, o.deploy ?? {}, o.json);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function connectHub(url: string | undefined): Promise<NatsConnection> {
  if (!url) throw new UsageError(`fleet: which hub? Pass --hub nats://hub.example.com:4222 or set VIGIL_FLEET_URL.`);
  const env = process.env;
  let authenticator;
  if (env.VIGIL_FLEET_CREDS) {
    try {
      authenticator = credsAuthenticator(readFileSync(env.VIGIL_FLEET_CREDS));
    } catch (err) {
      throw new UsageError(`VIGIL_FLEET_CREDS ${env.VIGIL_FLEET_CREDS}: ${(err as Error).message}`);
    }
  }
  try {
    return await connect({
      servers: url.split(",").map((s) => s.trim()),
      name: "vigil-fleet",
      maxReconnectAttempts: 0,
      timeout: 5_000,
      user: env.VIGIL_FLEET_USER,
      pass: env.VIGIL_FLEET_PASS,
      token: env.VIGIL_FLEET_TOKEN,
      authenticator,
    });
  } catch (err) {
    throw new UsageError(`cannot reach the hub at ${url} (${(err as Error).message})`, 1);
  }
}

/** The fleet stream's sources, or undefined when it does not exist yet. */
async function currentSources(jsm: JetStreamManager, stream: string): Promise<StreamSource[] | undefined> {
  try {
    return (await jsm.streams.info(stream)).config.sources ?? [];
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The fleet stream: no subjects of its own (nothing published on the hub lands in it, nothing loops), only sources. */
function fleetStreamConfig(stream: string, sources: StreamSource[]) {
  return { name: stream, subjects: [], sources, storage: StorageType.File, retention: RetentionPolicy.Limits, discard: DiscardPolicy.Old, num_replicas: 1 };
}

async function change(jsm: JetStreamManager, stream: string, op: "add" | "remove", devices: string[], json: boolean): Promise<number> {
  const current = await currentSources(jsm, stream);
  const c = op === "add" ? addSources(current ?? [], devices, ORIGIN_STREAM) : removeSources(current ?? [], devices);
  if (c.changed.length > 0) {
    if (current === undefined) await jsm.streams.add(fleetStreamConfig(stream, c.sources));
    else {
      const info = await jsm.streams.info(stream);
      await jsm.streams.update(stream, { ...info.config, sources: c.sources });
    }
  }
  if (json) process.stdout.write(`${JSON.stringify({ stream, [op === "add" ? "added" : "removed"]: c.changed, unchanged: c.unchanged })}\n`);
  else {
    for (const d of c.changed) process.stdout.write(op === "add" ? `${d}: added; ${stream} sources VIGIL from domain ${d}\n` : `${d}: removed; its events already in ${stream} stay\n`);
    for (const d of c.unchanged) process.stdout.write(op === "add" ? `${d}: already in the fleet\n` : `${d}: not in the fleet\n`);
  }
  return 0;
}

/** Per device: the source's lag and activity from the stream info, and what its sourced events say. */
export async function fleetStatus(nc: NatsConnection, jsm: JetStreamManager, stream: string, only: string[] = []): Promise<DeviceReport[]> {
  const info = await jsm.streams.info(stream);
  const sourceInfo = new Map((info.sources ?? []).map((s) => [deviceOfSource(s), s]));
  // In the order they were added (the config's sources); the info's sources come in no fixed order.
  const devices = only.length ? only : (info.config.sources ?? []).map(deviceOfSource).filter((d): d is string => !!d);
  const reports: DeviceReport[] = [];
  for (const device of devices) {
    reports.push(
      deviceReport(device, sourceInfo.get(device), {
        last: await lastEvent(jsm, stream, `vigil.${device}.>`),
        heartbeat: await lastEvent(jsm, stream, `vigil.${device}.sys.service.*.heartbeat`),
        incidents: await readAll(nc, stream, `vigil.${device}.dec.incident.>`),
      }),
    );
  }
  return reports;
}

async function lastEvent(jsm: JetStreamManager, stream: string, subject: string): Promise<VigilEvent | undefined> {
  try {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return m ? decodeEvent(m.subject, m.data) : undefined;
  } catch {
    return undefined; // none yet (or not a valid event: status shows what it can)
  }
}

/** Every stored event on a subject, in stream order (an ordered consumer, read until nothing is pending). */
export async function readAll(nc: NatsConnection, stream: string, filter: string): Promise<VigilEvent[]> {
  const js = jetstream(nc);
  const c = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const out: VigilEvent[] = [];
  for (;;) {
    const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
    let n = 0;
    let pending = 0;
    for await (const m of batch) {
      n++;
      pending = m.info.pending;
      try {
        out.push(decodeEvent(m.subject, m.data));
      } catch {
        /* not an event: skipped */
      }
      if (pending === 0) break; // caught up: do not wait for the batch to expire
    }
    if (n === 0 || pending === 0) return out;
  }
}
