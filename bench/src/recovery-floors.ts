// The recovery benchmark's floors: bare spawn() and the same hops over JetStream with no Vigil logic.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Cleanup } from "./recovery-cleanup.js";
import { HERE, now, progress, PROGRAM, spawnSleep, WAIT_MS, withTimeout, type Options } from "./recovery-common.js";

// ───────────────────────────── 2. spawn floor ─────────────────────────────

export interface SpawnFloor {
  returned: number[];
  spawnEvent: number[];
}

export async function spawnFloor(o: Options, cleanup: Cleanup): Promise<SpawnFloor> {
  const out: SpawnFloor = { returned: [], spawnEvent: [] };
  for (let i = 0; i < o.warmup + o.iterations; i++) {
    const t0 = now();
    const child = spawnSleep();
    const tReturned = now();
    if (child.pid === undefined) throw new Error(`spawn ${PROGRAM} returned no pid`);
    cleanup.child("sleep", child, "SIGKILL");
    await once(child, "spawn");
    const tSpawn = now();
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    if (i >= o.warmup) {
      out.returned.push(tReturned - t0);
      out.spawnEvent.push(tSpawn - t0);
      if ((i + 1 - o.warmup) % 50 === 0) progress(`spawn floor ${i + 1 - o.warmup}/${o.iterations}`);
    }
  }
  return out;
}

// ───────────────────────────── 3. JetStream floor ─────────────────────────────

export interface JetStreamFloor {
  /** kill → new child's spawn() returned. */
  total: number[];
  /** kill → Node's 'exit' event for the old child. */
  exitSeen: number[];
  /** kill → the command message reached the consumer here. */
  commandSeen: number[];
}

/** A payload the size of a Vigil event (≈ 500 bytes of JSON), so the floor moves the same bytes. */
export function floorPayload(i: number, pid: number | undefined): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      specversion: "1.0",
      id: `floor-${i}-${pid}-${"x".repeat(24)}`,
      source: "bench/floor",
      type: "floor.worker.exited",
      time: new Date().toISOString(),
      subject: "floor.obs.worker.exited",
      datacontenttype: "application/json",
      data: { worker: "target", pid, code: null, signal: "SIGKILL", expected: false, uptimeMs: 1 },
      device: "bench",
      incident: "00000000-0000-5000-8000-000000000000",
      causation: "00000000-0000-5000-8000-000000000000",
      correlation: "00000000-0000-5000-8000-000000000000",
    }),
  );
}

/** A user of the bus (the full-system profile's embedded server wants one; the isolated one has none). */
export interface BusAuth {
  user: string;
  pass: string;
}

/** One floor iteration: kill → respawned, kill → 'exit' seen, kill → command consumed (ms). */
export interface FloorSample {
  total: number;
  exitSeen: number;
  commandSeen: number;
}

/** The floor set up and its first child running; each iterate() kills it and waits for the respawn. */
export async function startJetStreamFloor(url: string, cleanup: Cleanup, auth?: BusAuth): Promise<{ iterate(): Promise<FloorSample>; stop(): Promise<void> }> {
  const STREAM = "FLOOR";
  // The bench plays the supervisor (holds the child, publishes its exit, consumes commands) on this
  // connection; the decider's hop is a relay process with its own connection.
  const nc = cleanup.connection(await connect({ servers: url, name: "bench-floor", noAsyncTraces: true, ...auth }));
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await jsm.streams.add({ name: STREAM, subjects: ["floor.>"], storage: StorageType.File, num_replicas: 1 });
  for (const [durable, filter] of [
    ["floor-decider", "floor.obs.>"],
    ["floor-supervisor", "floor.cmd.>"],
  ] as const) {
    await jsm.consumers.add(STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: filter, deliver_policy: DeliverPolicy.All, ack_wait: 30_000_000_000, max_ack_pending: 1_000 });
  }

  // The decider's hop, in its own process.
  const relay = cleanup.child("floor-relay", spawn(process.execPath, [join(HERE, "floor-relay.js"), url, STREAM, "floor-decider", "floor.cmd.worker.restart"], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, ...(auth ? { FLOOR_RELAY_USER: auth.user, FLOOR_RELAY_PASS: auth.pass } : {}) },
    }));
  await withTimeout(
    new Promise<void>((resolveReady, reject) => {
      relay.once("message", () => resolveReady());
      relay.once("exit", (code) => reject(new Error(`floor-relay exited with ${code}`)));
    }),
    10_000,
    "floor-relay to be ready",
  );
  relay.removeAllListeners("exit");
  relay.channel?.unref();

  let iteration = 0;
  let current: ChildProcess | undefined;
  let tExit = 0;
  let waiter: { resolve: (r: { t1: number; tCmd: number; pid: number }) => void; reject: (e: Error) => void } | undefined;

  // The supervisor's part: the child's exit goes on the bus at once, a command from the bus spawns.
  function startChild(): ChildProcess {
    const child = spawnSleep();
    if (child.pid === undefined) throw new Error(`spawn ${PROGRAM} returned no pid`);
    cleanup.child("sleep", child, "SIGKILL");
    const pid = child.pid;
    child.once("exit", () => {
      tExit = now();
      js.publish("floor.obs.worker.exited", floorPayload(iteration, pid)).catch((err) => waiter?.reject(err as Error));
    });
    return child;
  }

  const commands: ConsumerMessages = await (await js.consumers.get(STREAM, "floor-supervisor")).consume({ max_messages: 16 });
  const loop = (async () => {
    for await (const m of commands) {
      const tCmd = now();
      current = startChild();
      const t1 = now();
      m.ack();
      waiter?.resolve({ t1, tCmd, pid: current.pid! });
    }
  })();

  current = startChild();
  let i = 0;
  return {
    async iterate() {
      iteration = i++;
      const old = current!;
      const next = new Promise<{ t1: number; tCmd: number; pid: number }>((res, rej) => (waiter = { resolve: res, reject: rej }));
      const t0 = now();
      process.kill(old.pid!, "SIGKILL");
      const r = await withTimeout(next, WAIT_MS, `the JetStream floor's respawn (iteration ${iteration})`);
      waiter = undefined;
      if (r.pid === old.pid) throw new Error("JetStream floor: respawn reported the killed pid");
      return { total: r.t1 - t0, exitSeen: tExit - t0, commandSeen: r.tCmd - t0 };
    },
    async stop() {
      commands.stop();
      await loop.catch(() => undefined);
      current?.kill("SIGKILL");
    },
  };
}

/** The floor's iterations one after another (the isolated profile; the full one interleaves them with its kills). */
export async function jetstreamFloor(o: Options, url: string, cleanup: Cleanup, auth?: BusAuth): Promise<JetStreamFloor> {
  const floor = await startJetStreamFloor(url, cleanup, auth);
  const out: JetStreamFloor = { total: [], exitSeen: [], commandSeen: [] };
  try {
    for (let i = 0; i < o.warmup + o.iterations; i++) {
      const r = await floor.iterate();
      if (i < o.warmup) continue;
      out.total.push(r.total);
      out.exitSeen.push(r.exitSeen);
      out.commandSeen.push(r.commandSeen);
      if ((i + 1 - o.warmup) % 50 === 0) progress(`jetstream floor ${i + 1 - o.warmup}/${o.iterations}`);
    }
  } finally {
    await floor.stop();
  }
  return out;
}
