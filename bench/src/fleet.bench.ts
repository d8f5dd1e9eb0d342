#!/usr/bin/env node
/**
 * Fleet catch-up benchmark (docs/fleet.md). In one run, on loopback, with real nats-servers:
 *
 *  - a hub (JetStream domain "hub", a leafnode listener) and devices that are bare nats-servers with
 *    the leaf/domain config `vigil up` writes for a fleet uplink (JetStream domain = device id, a leaf
 *    remote to the hub, `vigil.>` denied both ways on the link) and a VIGIL stream (ensureStream);
 *  1. Baseline: a bare JetStream mirror of one device's VIGIL on the hub. Hub stopped, N events
 *     published on that device, hub restarted: time from the hub being ready until the mirror holds N.
 *  2. Fleet: VIGIL_FLEET on the hub sourcing VIGIL from 3 devices through their domains (as
 *     `vigil fleet add` creates it). Hub stopped, N events published on each device, hub restarted:
 *     time until the fleet stream holds 3·N.
 *  Both are repeated (--rounds, default 2; alternating, same servers) and the best of each reported.
 *  Then every device's ids are compared with the fleet's (by Nats-Msg-Id): missing and duplicates.
 *
 * Both rates include the leaf reconnect after the hub restart (the same for both). Writes
 * results/fleet.json and results/fleet.md.
 *
 *   node dist/fleet.bench.js [--events N] [--rounds R]   (or BENCH_FLEET_EVENTS, BENCH_FLEET_ROUNDS; default 100000, 2)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { CLOUDEVENTS_CONTENT_TYPE, connectBus, encodeEvent, ensureStream, makeEvent, parseConfig } from "@vigil/events";
import { freePort, startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { integerOption } from "./lib/options.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = join(resolve(HERE, ".."), "results");
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

const N = integerOption("events", "BENCH_FLEET_EVENTS", 100_000);
const FLEET_DEVICES = ["dev-1", "dev-2", "dev-3"];
const MIRROR_DEVICE = "dev-m";
const ROUNDS = integerOption("rounds", "BENCH_FLEET_ROUNDS", 2);

interface Node {
  id: string;
  srv: TestNatsServer;
  nc: NatsConnection;
}

async function startHub(): Promise<TestNatsServer & { leafPort: number }> {
  const leafPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "vigil-bench-hub-"));
  const conf = join(dir, "hub.conf");
  writeFileSync(conf, `jetstream { domain: hub }\nleafnodes { listen: "127.0.0.1:${leafPort}" }\n`);
  return Object.assign(await startNatsServer({ args: ["-c", conf] }), { leafPort });
}

/** A device server with the leaf/domain config of a fleet uplink (see packages/vigil/src/fleet-uplink.ts). */
async function startDevice(id: string, leafPort: number): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), `vigil-bench-${id}-`));
  const conf = join(dir, "nats-server.conf");
  writeFileSync(
    conf,
    `jetstream { domain: "${id}" }\nleafnodes { remotes: [ { urls: ["nats-leaf://127.0.0.1:${leafPort}"], deny_imports: ["vigil.>"], deny_exports: ["vigil.>"] } ] }\n`,
  );
  const srv = await startNatsServer({ args: ["-c", conf] });
  const nc = await connectBus({ url: srv.url }, `bench-${id}`);
  await ensureStream(await jetstreamManager(nc), parseConfig({ device: id }, { env: {} }).stream);
  return { id, srv, nc };
}

/** N events of one device into its VIGIL stream, 256 publishes in flight; returns their ids in order. */
async function publish(d: Node, n: number): Promise<string[]> {
  const js = jetstream(d.nc);
  const ids: string[] = [];
  const h = headers();
  h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
  let inflight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const e = makeEvent(d.id, `vigil/${d.id}/supervisor`, "obs.worker.stable", { worker: "sensor", pid: 1000 + (i % 5000), uptimeMs: i });
    ids.push(e.id);
    inflight.push(js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout: 30_000 }));
    if (inflight.length >= 256) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
  return ids;
}

/** Polls the stream's message count until it reaches `want`; returns seconds since `t0` and when the first message landed. */
async function waitForCount(jsm: JetStreamManager, stream: string, want: number, t0: number, timeoutMs = 170_000): Promise<{ s: number; firstS: number }> {
  let firstS = -1;
  for (;;) {
    // Right after the restart the client may still be reconnecting: count that as none yet.
    const have = await jsm.streams.info(stream).then((i) => i.state.messages, () => 0);
    const s = (performance.now() - t0) / 1000;
    if (have > 0 && firstS < 0) firstS = s;
    if (have >= want) return { s, firstS };
    if (s * 1000 > timeoutMs) throw new Error(`${stream} holds ${have} of ${want} after ${s.toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every Nats-Msg-Id in the stream on `filter`, in order (an ordered consumer, read until nothing is pending). */
async function idsIn(nc: NatsConnection, stream: string, filter: string): Promise<string[]> {
  const c = await jetstream(nc).consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const out: string[] = [];
  const info = await jetstreamManager(nc).then((j) => j.streams.info(stream, { subjects_filter: filter }));
  const total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (total === 0) return out;
  const msgs = await c.consume({ max_messages: 1000 });
  for await (const m of msgs) {
    out.push(m.headers?.get("Nats-Msg-Id") ?? "");
    if (m.info.pending === 0) break;
  }
  return out;
}

async function main(): Promise<void> {
  const hub = await startHub();
  const nodes: Node[] = [];
  let hubNc: NatsConnection | undefined;
  try {
    hubNc = await connectBus({ url: hub.url }, "bench-hub");
    const hjsm = await jetstreamManager(hubNc);

    const m = await startDevice(MIRROR_DEVICE, hub.leafPort);
    nodes.push(m);
    const devs = await Promise.all(FLEET_DEVICES.map((id) => startDevice(id, hub.leafPort)));
    nodes.push(...devs);
    await hjsm.streams.add({ name: "VIGIL_MIRROR", mirror: { name: "VIGIL", domain: MIRROR_DEVICE } });
    // The fleet stream sourcing three devices, as `vigil fleet add` makes it.
    await hjsm.streams.add({ name: "VIGIL_FLEET", subjects: [], sources: FLEET_DEVICES.map((d) => ({ name: "VIGIL", external: { api: `$JS.${d}.API`, deliver: "" } })) });
    const published: string[][] = devs.map(() => []);
    const rounds: Array<{ mirror: { s: number; firstS: number }; fleet: { s: number; firstS: number } }> = [];
    // Rounds alternate mirror and fleet outages, so both meet the same machine; the best of each is reported.
    for (let r = 1; r <= ROUNDS; r++) {
      // 1. Baseline: a bare mirror of one device's stream (the fleet devices are idle and caught up).
      await hub.stop();
      progress(`round ${r}: hub down; publishing ${N} events on ${MIRROR_DEVICE}`);
      await publish(m, N);
      await hub.restart();
      let t0 = performance.now();
      const mirror = await waitForCount(hjsm, "VIGIL_MIRROR", r * N, t0);
      progress(`round ${r}: mirror caught up ${N} in ${mirror.s.toFixed(2)} s (first after ${mirror.firstS.toFixed(2)} s): ${Math.round(N / mirror.s)} events/s`);

      // 2. The fleet: N on each of three devices (the mirror is idle and caught up).
      await hub.stop();
      progress(`round ${r}: hub down; publishing ${N} events on each of ${FLEET_DEVICES.join(", ")}`);
      const ids = await Promise.all(devs.map((d) => publish(d, N)));
      ids.forEach((x, k) => published[k]!.push(...x));
      await hub.restart();
      t0 = performance.now();
      const fleet = await waitForCount(hjsm, "VIGIL_FLEET", r * 3 * N, t0);
      progress(`round ${r}: fleet caught up ${3 * N} in ${fleet.s.toFixed(2)} s (first after ${fleet.firstS.toFixed(2)} s): ${Math.round((3 * N) / fleet.s)} events/s`);
      rounds.push({ mirror, fleet });
    }
    const best = (k: "mirror" | "fleet") => rounds.reduce((a, b) => (b[k].s < a[k].s ? b : a))[k];
    const mirror = best("mirror");
    const fleet = best("fleet");
    const mirrorRate = N / mirror.s;
    const fleetRate = (3 * N) / fleet.s;

    // Every device's ids against the fleet's.
    let missing = 0;
    let duplicates = 0;
    for (const [i, d] of devs.entries()) {
      const got = await idsIn(hubNc, "VIGIL_FLEET", `vigil.${d.id}.>`);
      const have = new Set(got);
      duplicates += got.length - have.size;
      missing += published[i]!.filter((id) => !have.has(id)).length;
      const own = await idsIn(d.nc, "VIGIL", `vigil.${d.id}.>`);
      if (own.length !== got.length || own.some((id, k) => got[k] !== id)) progress(`${d.id}: order differs from the device's own stream`);
    }
    const total = (await hjsm.streams.info("VIGIL_FLEET")).state.messages;
    const result = {
      fleet_catchup_events_per_s: Math.round(fleetRate),
      mirror_catchup_events_per_s: Math.round(mirrorRate),
      fleet_missing: missing,
      fleet_duplicates: duplicates,
      fleet_vs_mirror: Number((fleetRate / mirrorRate).toFixed(3)),
      // Once the link is back and data flows (from the first event in), without the reconnect wait.
      fleet_transfer_events_per_s: Math.round((3 * N) / Math.max(1e-3, fleet.s - fleet.firstS)),
      mirror_transfer_events_per_s: Math.round(N / Math.max(1e-3, mirror.s - mirror.firstS)),
      events_per_device: N,
      devices: FLEET_DEVICES.length,
      fleet_events: total,
      fleet_catchup_s: Number(fleet.s.toFixed(3)),
      fleet_first_event_s: Number(fleet.firstS.toFixed(3)),
      mirror_catchup_s: Number(mirror.s.toFixed(3)),
      mirror_first_event_s: Number(mirror.firstS.toFixed(3)),
      rounds: rounds.map((x) => ({ mirror_s: Number(x.mirror.s.toFixed(3)), fleet_s: Number(x.fleet.s.toFixed(3)) })),
      targets: { fleet_missing: 0, fleet_duplicates: 0, fleet_vs_mirror_min: 0.5 },
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, "fleet.json"), `${JSON.stringify(result, null, 2)}\n`);
    const natsVersion = execFileSync(process.env.VIGIL_NATS_SERVER ?? "nats-server", ["--version"], { encoding: "utf8" }).trim();
    const md = `# Fleet catch-up benchmark

${N.toLocaleString("en")} events buffered on each of ${FLEET_DEVICES.length} devices while the hub was down, then the hub restarted (best of ${ROUNDS} rounds, mirror and fleet alternating); on this ${cpus().length}-core machine (${cpus()[0]?.model.trim()}), ${natsVersion}, Node ${process.version}. Devices are bare nats-servers with the leaf/domain config \`vigil up\` writes for a fleet uplink and a VIGIL stream; the hub's VIGIL_FLEET sources VIGIL from each device's domain, as \`vigil fleet add\` creates it. Produced by \`node bench/dist/fleet.bench.js\`.

| figure | value | target |
| --- | --- | --- |
| fleet catch-up (${(3 * N).toLocaleString("en")} events, 3 sources) | **${result.fleet_catchup_events_per_s.toLocaleString("en")} events/s** (${result.fleet_catchup_s} s) | ≥ ½ of the mirror |
| bare JetStream mirror of one stream (${N.toLocaleString("en")} events) | ${result.mirror_catchup_events_per_s.toLocaleString("en")} events/s (${result.mirror_catchup_s} s) | baseline |
| fleet / mirror | ${result.fleet_vs_mirror} | ≥ 0.5 |
| missing in the fleet (ids per device vs. the device's own stream) | ${missing} | 0 |
| duplicates in the fleet | ${duplicates} | 0 |
| first event after the hub was ready: fleet / mirror | ${result.fleet_first_event_s} s / ${result.mirror_first_event_s} s | |
| every round, catch-up seconds: fleet / mirror | ${result.rounds.map((x) => `${x.fleet_s} / ${x.mirror_s}`).join("; ")} | |
| transfer rate once data flows (first event → all): fleet / mirror | ${result.fleet_transfer_events_per_s.toLocaleString("en")} / ${result.mirror_transfer_events_per_s.toLocaleString("en")} events/s | |

Both times run from the hub being ready again, so they include the wait before anything flows (the
leaf node reconnecting, then nats-server retrying the mirror's or sources' consumers on the device):
about 5 s here, the same for the mirror and the fleet. With 100,000 events per device that fixed wait
is most of both times; the transfer-rate row shows the rates once data flows.
Hub, devices and the benchmark share the same two cores, so the devices' servers compete with the hub for CPU; a real hub is elsewhere. On this shared VM repeated runs vary by about ±20 %.
`;
    writeFileSync(join(RESULTS_DIR, "fleet.md"), md);
    progress(`wrote results/fleet.json: ${JSON.stringify(result)}`);
  } finally {
    for (const n of nodes) {
      await n.nc.close().catch(() => undefined);
      await n.srv.cleanup();
    }
    await hubNc?.close().catch(() => undefined);
    await hub.cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
