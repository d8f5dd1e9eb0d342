import { deviceFilter, startConsumer, type ServiceContext } from "@vigil/events";
import { type DeciderState } from "@vigil/events";
import { createDecider, DEFAULT_POLICIES, type Policy } from "./core/mod.js";
import { snapshotStore } from "./snapshot.js";

/** How long a state change may wait for the backlog to drain before it is saved anyway. */
const SAVE_DELAY_MS = 250;
/**
 * A failing event is retried in place, this often, before it is dead-lettered: the fold is
 * order-dependent, so no later event may be folded before it (a redelivery would come after them).
 */
const HANDLE_ATTEMPTS = 4;
const RETRY_BASE_MS = 100;

/** Runs `f` up to `attempts` times, waiting base·2^n between tries; the last error says how often it failed. */
async function retryInPlace<T>(f: () => Promise<T>, attempts: number, baseMs: number, onRetry: (err: Error, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (attempt >= attempts) throw new Error(`${(err as Error).message} (failed ${attempt} times in a row)`);
      onRetry(err as Error, attempt);
      await new Promise((r) => setTimeout(r, baseMs * 2 ** (attempt - 1)));
    }
  }
}

export interface DeciderServiceOptions {
  policies?: Policy[];
  /** Dead letters of bad payloads in flight at once (libs/events dead-letters.ts); 1 is the old awaited path (bench baseline). */
  deadLetterWindow?: number;
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
  // Events whose handling failed: not folded, their decisions maybe not published. Should one come
  // back (its dead letter could not be published either), it is handled again, never skipped as done.
  const failed = new Set<number>();
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
  // Off the hot path (issue 13: the next event, maybe a crash, waited for the KV round trip): one save
  // in flight, the latest state going next. Safe to ack before it lands: a restart resumes from the
  // snapshot's own seq (the durable is re-created there) and re-decides the same ids.
  let saving: Promise<void> | undefined;
  let saveAgain = false;
  const saveInBackground = (): void => {
    if (saving) {
      saveAgain = true;
      return;
    }
    saving = save()
      .catch((err) => log.warn({ err: (err as Error).message }, "snapshot failed"))
      .finally(() => {
        saving = undefined;
        if (saveAgain) {
          saveAgain = false;
          saveInBackground();
        }
      });
  };

  const consumer = await startConsumer(ctx.nc, {
    stream: config.stream.name,
    durable: "decider",
    filterSubject: deviceFilter(config.device),
    startSeq: seq + 1,
    deadLetters: publisher,
    log,
    maxMessages: 64,
    ...(opts.deadLetterWindow !== undefined ? { deadLetterWindow: opts.deadLetterWindow } : {}),
    // A handler error is final (retried in place below), dead-lettered with its reason.
    deadLetterOnHandlerError: true,
    handler: async (e, m) => {
      // Folded, its decisions published (a redelivery after a lost ack, or the snapshot's range).
      if (m.seq <= seq && !failed.has(m.seq)) return;
      let changed = false;
      if (decider.isInput(e)) {
        const r = await retryInPlace(
          async () => {
            const r = decider.step(state, e);
            // Published back to back and awaited together: one connection keeps their order in the stream.
            // Their ids are derived from the input: publishing them again on a retry is deduplicated.
            await Promise.all(r.decisions.map((d) => publisher.publish(d)));
            return r;
          },
          HANDLE_ATTEMPTS,
          RETRY_BASE_MS,
          (err, attempt) => log.warn({ err: err.message, seq: m.seq, subject: m.subject, attempt }, "handling failed, retrying in place"),
        ).catch((err) => {
          failed.add(m.seq);
          throw err;
        });
        if (r.decisions.length) log.info({ trigger: e.type, decisions: r.decisions.map((d) => d.type), incident: r.decisions[0]?.incident }, "decided");
        changed = r.state !== state;
        state = r.state;
      }
      failed.delete(m.seq);
      seq = Math.max(seq, m.seq);
      unsaved++;
      // The decider's own events read back change nothing: they wait for the next save instead of forcing one.
      // A change is saved once the backlog is read, and within SAVE_DELAY_MS even while other events keep
      // arriving (health samples, heartbeats): otherwise a restarted worker's new pid could wait for
      // snapshotEvery unrelated events before the console shows it.
      dirty ||= changed;
      if (unsaved >= config.decider.snapshotEvery || (dirty && m.info.pending === 0)) saveInBackground();
      else if (dirty && !saveSoon) {
        saveSoon = setTimeout(saveInBackground, SAVE_DELAY_MS);
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
    while (saving) await saving;
    if (unsaved > 0) await save().catch((err) => log.warn({ err: (err as Error).message }, "final snapshot failed"));
  };
}
