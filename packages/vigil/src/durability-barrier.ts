import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { durabilitySubjects, isNotFound, type DurableMark } from "@vigil/events";
import { closeStoreSync, fsyncStore, newStoreSyncState } from "./store-fsync.js";
import { writeDurableRecord } from "./store-damage.js";

/**
 * The durability barrier (docs/decisions/0009-durability-barrier.md): nats-server 2.9 acknowledges a
 * message once it is written to the OS and fsyncs it only minutes later, if at all, so a power cut
 * takes everything acknowledged since. vigil up owns the store, so it fsyncs it itself: a group
 * commit every `intervalMs` when something changed (and on request), then announces the highest
 * stream sequence that is on disk. Publishers keep each event in their outbox until it is covered.
 */
export interface DurabilityBarrier {
  /** Runs a barrier now (or joins the one running and then runs another) and returns its mark. */
  sync(): Promise<DurableMark | undefined>;
  /** Durations of the passes so far, in ms (for the bench's barrier_p99_ms). */
  passDurations(): number[];
  stop(): Promise<void>;
}

export interface BarrierOptions {
  storeDir: string;
  stream: string;
  device: string;
  /** Group-commit period while there were writes (20–50 ms keeps publish latency low and fsyncs few). */
  intervalMs?: number;
  say?: (msg: string) => void;
  /** Makes the stream again when the server lost its definition (a cut before its meta files were on disk). */
  recreate?: () => Promise<unknown>;
  /**
   * Where to keep the highest announced sequence on disk (`<dataDir>/nats-durable.json`), at most
   * every RECORD_MS: at the next start, a torn block's loss is counted up to it (store-damage.ts).
   */
  recordFile?: string;
}

/** The durable record lags the announcements by at most this (it costs three fsyncs, off the pass). */
const RECORD_MS = 1_000;

/** Consumers, KV and other streams change without the event stream's last_seq moving: synced at least this often. */
const IDLE_PASS_MS = 1_000;

export function startDurabilityBarrier(nc: NatsConnection, jsm: JetStreamManager, o: BarrierOptions): DurabilityBarrier {
  const subjects = durabilitySubjects(o.device);
  const interval = o.intervalMs ?? 25;
  const durations: number[] = [];
  const syncState = newStoreSyncState();
  let last: DurableMark | undefined;
  let lastPassAt = 0;
  let stopped = false;
  let warned = false;
  let recorded = { seq: -1, at: 0 };
  let recording: Promise<void> | undefined;
  const record = (mark: DurableMark, now = false) => {
    if (!o.recordFile || recording || mark.seq <= recorded.seq || (!now && Date.now() - recorded.at < RECORD_MS)) return recording;
    const at = Date.now();
    recording = writeDurableRecord(o.recordFile, { stream: o.stream, seq: mark.seq }).then(
      () => void (recorded = { seq: mark.seq, at }),
      (err: Error) => o.say?.(`durability barrier: could not record the durable sequence (${err.message})`),
    ).finally(() => (recording = undefined));
    return recording;
  };

  /** `known`: stream info read by the tick that started this pass (saves a round trip). */
  const pass = async (known?: StreamInfo): Promise<DurableMark | undefined> => {
    const t0 = performance.now();
    // The sequence is read first: every message up to it was written to the OS before the fsyncs below.
    const info = known ?? (await jsm.streams.info(o.stream));
    await fsyncStore(o.storeDir, o.stream, syncState);
    const mark: DurableMark = { stream: o.stream, seq: info.state.last_seq, created: info.created };
    durations.push(performance.now() - t0);
    if (durations.length > 100_000) durations.splice(0, 50_000);
    last = mark;
    lastPassAt = Date.now();
    nc.publish(subjects.announce, JSON.stringify(mark));
    record(mark);
    return mark;
  };
  const guarded = (known?: StreamInfo) =>
    pass(known).catch((err) => {
      // The server is restarting (keepEmbeddedNats) or the stream is being re-created: next tick.
      if (!warned) o.say?.(`durability barrier: pass failed (${(err as Error).message}); retrying`);
      warned = true;
      return undefined;
    });
  const passes = oneAtATime(guarded);
  const runPass = passes.run;

  let ticking = false;
  const tick = async () => {
    if (stopped || passes.busy() || ticking) return;
    ticking = true;
    try {
      const info = await jsm.streams.info(o.stream);
      const moved = !last || info.state.last_seq !== last.seq || info.created !== last.created;
      if (moved || Date.now() - lastPassAt >= IDLE_PASS_MS) {
        if (await runPass(info)) warned = false;
      }
    } catch (err) {
      if (isNotFound(err) && o.recreate) {
        o.say?.(`the ${o.stream} stream is gone (the server dropped its definition after a cut?): re-creating it`);
        await o.recreate().catch((e) => o.say?.(`could not re-create ${o.stream}: ${(e as Error).message}`));
      }
      /* otherwise the server is down: the next tick asks again */
    } finally {
      ticking = false;
    }
  };
  const timer = setInterval(() => void tick(), interval);
  const sub = nc.subscribe(subjects.sync, {
    callback: (_err, msg) => {
      void runPass().then((m) => msg.respond(JSON.stringify(m ?? last ?? null)));
    },
  });

  return {
    sync: () => runPass(),
    passDurations: () => durations.slice(),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await passes.settled();
      await closeStoreSync(syncState);
      sub.unsubscribe();
      // The last pass's sequence on disk too, so the next start counts a torn block's loss up to it.
      await recording;
      if (last) await record(last, true);
    },
  };
}

/**
 * Runs one pass at a time. A call while one runs gets the next pass, shared by every call made
 * meanwhile: a request must not be answered by a pass that read `last_seq` before the request's event.
 */
export function oneAtATime<A, T>(run: (arg?: A) => Promise<T>): { run(arg?: A): Promise<T>; busy(): boolean; settled(): Promise<void> } {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const call = (arg?: A): Promise<T> => {
    if (!running) {
      const p = run(arg).finally(() => {
        if (running === p) running = undefined;
      });
      return (running = p);
    }
    queued ??= running.catch(() => undefined).then(() => {
      queued = undefined;
      return call();
    });
    return queued;
  };
  return {
    run: call,
    busy: () => running !== undefined,
    async settled() {
      await queued?.catch(() => undefined);
      await running?.catch(() => undefined);
    },
  };
}
