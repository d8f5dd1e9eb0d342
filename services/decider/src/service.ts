import { deviceFilter, startConsumer, type ServiceContext } from "@vigil/events";
import { type DeciderState } from "@vigil/events";
import { createDecider, DEFAULT_POLICIES, type Policy } from "./core/mod.js";
import { snapshotStore } from "./snapshot.js";

/** How long a state change may wait for the backlog to drain before it is saved anyway. */
const SAVE_DELAY_MS = 250;

export interface DeciderServiceOptions {
  policies?: Policy[];
}

/**
 * The imperative shell around the pure decider: load the snapshot, consume this device's events from
 * the sequence after it, and for each input event publish the decisions, fold, snapshot, ack — in
 * that order, so a crash anywhere re-decides the same ids rather than missing an event.
 */
export async function startDecider(ctx: ServiceContext, opts: DeciderServiceOptions = {}): Promise<() => Promise<void>> {
  const { config, log, publisher } = ctx;
  const decider = createDecider(config, opts.policies ?? DEFAULT_POLICIES);
  const store = await snapshotStore(ctx.nc, config.device);
  const snap = await store.load();
  let state: DeciderState = snap?.state ?? decider.initialState;
  let seq = snap?.seq ?? 0;
  let unsaved = 0;
  log.info({ seq, workers: Object.keys(state.workers).length }, snap ? "resuming from snapshot" : "no snapshot: replaying the stream from the start");

  // A change not yet saved: readers of the snapshot (the gateway's console, `vigil status`) wait for it.
  let dirty = false;
  let saveSoon: NodeJS.Timeout | undefined;
  const save = async () => {
    clearTimeout(saveSoon);
    saveSoon = undefined;
    unsaved = 0;
    dirty = false;
    await store.save({ seq, state, version: 1 });
  };

  const consumer = await startConsumer(ctx.nc, {
    stream: config.stream.name,
    durable: "decider",
    filterSubject: deviceFilter(config.device),
    startSeq: seq + 1,
    deadLetters: publisher,
    log,
    maxMessages: 64,
    handler: async (e, m) => {
      if (m.seq <= seq) return; // already folded into the snapshot
      let changed = false;
      if (decider.isInput(e)) {
        const r = decider.step(state, e);
        // Published back to back and awaited together: one connection keeps their order in the stream.
        await Promise.all(r.decisions.map((d) => publisher.publish(d)));
        if (r.decisions.length) log.info({ trigger: e.type, decisions: r.decisions.map((d) => d.type), incident: r.decisions[0]?.incident }, "decided");
        changed = r.state !== state;
        state = r.state;
      }
      seq = m.seq;
      unsaved++;
      // The decider's own events read back change nothing: they wait for the next save instead of forcing one.
      // A change is saved once the backlog is read, and within SAVE_DELAY_MS even while other events keep
      // arriving (health samples, heartbeats): otherwise a restarted worker's new pid could wait for
      // snapshotEvery unrelated events before the console shows it.
      dirty ||= changed;
      if (unsaved >= config.decider.snapshotEvery || (dirty && m.info.pending === 0)) await save();
      else if (dirty && !saveSoon) {
        saveSoon = setTimeout(() => void save().catch((err) => log.warn({ err: (err as Error).message }, "snapshot failed")), SAVE_DELAY_MS);
        saveSoon.unref();
      }
    },
  });

  // Proof of life for the supervisor's degraded mode: no heartbeat for supervisor.degraded.afterMs
  // and it restarts crashed workers by itself (docs/degraded-mode.md).
  const beat = () =>
    void publisher
      .emit("sys.service.heartbeat", { service: "decider", pid: process.pid, uptimeMs: Math.round(process.uptime() * 1000), rssBytes: process.memoryUsage.rss() })
      .catch((err) => log.debug({ err: (err as Error).message }, "heartbeat not published"));
  beat();
  const heartbeat = setInterval(beat, config.decider.heartbeatMs);
  heartbeat.unref();

  return async () => {
    clearInterval(heartbeat);
    clearTimeout(saveSoon);
    await consumer.stop();
    if (unsaved > 0) await save().catch((err) => log.warn({ err: (err as Error).message }, "final snapshot failed"));
  };
}
