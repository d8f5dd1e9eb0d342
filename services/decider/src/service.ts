import { deviceFilter, startConsumer, type ServiceContext } from "@vigil/events";
import { type DeciderState } from "@vigil/events";
import { createDecider, DEFAULT_POLICIES, type Policy } from "./core/mod.js";
import { snapshotStore } from "./snapshot.js";

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

  const save = async () => {
    await store.save({ seq, state, version: 1 });
    unsaved = 0;
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
      if (unsaved >= config.decider.snapshotEvery || (changed && m.info.pending === 0)) await save();
    },
  });

  return async () => {
    await consumer.stop();
    if (unsaved > 0) await save().catch((err) => log.warn({ err: (err as Error).message }, "final snapshot failed"));
  };
}
