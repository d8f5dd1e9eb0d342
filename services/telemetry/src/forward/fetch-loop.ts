import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger, TelemetryConfig } from "@vigil/events";
import { pendingAfter, type BatchProcessor } from "./batch.js";
import { Stopped, type StopSignal } from "./stop-signal.js";
import type { Item } from "./types.js";

/**
 * Batches uploaded at once. One at a time left the forwarder idle for half the drain, waiting for
 * each answer (bench/results/telemetry.md); with three, one is compressed and sent while the cloud
 * stores the others. With the batch fetched ahead that is 4 batches unacked: the consumer's
 * max_ack_pending (batchMaxEvents × 4, forward/consumer.ts) bounds it.
 */
export const UPLOAD_WINDOW = 3;

export interface FetchLoopDeps {
  consumer: Consumer;
  cfg: TelemetryConfig;
  log: Logger;
  stop: StopSignal;
  batches: BatchProcessor;
}

/** The running loop: `done` settles once it has stopped; `close()` stops keeping held messages alive. */
export interface FetchLoop {
  done: Promise<void>;
  close(): void;
}

/** A batch on its way: `finished` is true once the cloud confirmed (or dead-lettered) all of it. */
interface InFlight {
  msgs: JsMsg[];
  settled: Promise<boolean>;
  finished?: boolean;
}

/**
 * Fetches batches (the next one while others upload), selects their items in stream order, uploads
 * up to UPLOAD_WINDOW of them at once, and acks them in stream order as they finish: a cumulative ack
 * confirms every earlier batch too, so a batch is acked only once all before it are done. A batch is
 * retried until it is done.
 */
export function startFetchLoop(d: FetchLoopDeps): FetchLoop {
  const held = new Set<JsMsg[]>();
  const keepAlive = keepHeldAlive(held, d.cfg);
  const window: InFlight[] = [];
  /** What the consumer still had after the last message fetched (0: unknown, or nothing waiting). */
  let waiting = 0;
  const fetchBatch = async (): Promise<JsMsg[]> => {
    // A backlog's last, partial batch is asked for by its size, so it comes at once instead of after
    // batchMaxWaitMs (the pull waits that long for a full batch): the drain benchmark's last 5 % took a
    // second that way. Nothing waiting: a full batch, as long as batchMaxWaitMs, as before.
    const msgs = await fetchOnce(d, waiting > 0 ? Math.min(waiting, d.cfg.batchMaxEvents) : d.cfg.batchMaxEvents);
    if (msgs.length > 0) held.add(msgs);
    waiting = msgs.length > 0 ? pendingAfter(msgs[msgs.length - 1]!) : 0;
    return msgs;
  };
  /** Acks the finished batches at the head of the window, in order. */
  const ackFinished = () => {
    while (window[0]?.finished === true) {
      const b = window.shift()!;
      d.batches.ack(b.msgs);
      held.delete(b.msgs);
    }
  };
  const start = (msgs: JsMsg[], items: Item[]) => {
    const b: InFlight = { msgs, settled: Promise.resolve(false) };
    b.settled = uploadUntilDone(d, items).then((ok) => {
      b.finished = ok;
      ackFinished();
      return ok;
    });
    window.push(b);
  };
  const done = (async () => {
    let next: Promise<JsMsg[]> | undefined;
    while (!d.stop.stopping) {
      const msgs = await (next ?? fetchBatch());
      next = undefined;
      if (d.stop.stopping) break;
      if (msgs.length === 0) continue;
      const items = await selectOrStopped(d, msgs);
      if (!items) break;
      start(msgs, items);
      next = fetchBatch(); // fetch ahead while the window uploads
      // A full window waits for its oldest batch; one that did not finish means shutdown.
      if (window.length >= UPLOAD_WINDOW && !(await window[0]!.settled)) break;
    }
    await Promise.all(window.map((b) => b.settled));
    await next?.catch(() => undefined);
  })();
  return { done, close: () => clearInterval(keepAlive) };
}

/** Up to `max` messages within batchMaxWaitMs; none after an interrupted fetch (after a short pause). */
async function fetchOnce(d: FetchLoopDeps, max: number): Promise<JsMsg[]> {
  const msgs: JsMsg[] = [];
  try {
    const iter = await d.consumer.fetch({ max_messages: max, expires: d.cfg.batchMaxWaitMs });
    for await (const m of iter) msgs.push(m);
  } catch (err) {
    if (msgs.length === 0 && !d.stop.stopping) {
      d.log.debug({ err: (err as Error).message }, "fetch interrupted");
      await d.stop.sleep(500).catch(() => undefined);
    }
  }
  return msgs;
}

/** The batch's items; undefined when shutdown interrupted the selection (reading the stream's state). */
async function selectOrStopped(d: FetchLoopDeps, msgs: JsMsg[]): Promise<Item[] | undefined> {
  try {
    return await d.batches.select(msgs);
  } catch (err) {
    if (err instanceof Stopped) return undefined;
    throw err;
  }
}

/** True once the batch is done, false when shutdown interrupted it (then it is not acked). */
async function uploadUntilDone(d: FetchLoopDeps, items: Item[]): Promise<boolean> {
  while (!d.stop.stopping) {
    try {
      await d.batches.upload(items);
      return true;
    } catch (err) {
      if (err instanceof Stopped) return false;
      d.log.error({ err: (err as Error).message }, "batch processing failed; retrying the same batch");
      await d.stop.sleep(1_000).catch(() => undefined);
    }
  }
  return false;
}

/**
 * Held messages (the batches being uploaded and the one fetched ahead) must not pass ack_wait while an
 * outage lasts, or NATS would hand them out again.
 */
function keepHeldAlive(held: Set<JsMsg[]>, cfg: TelemetryConfig): NodeJS.Timeout {
  const t = setInterval(() => {
    for (const batch of held) for (const m of batch) m.working();
  }, Math.max(1_000, (cfg.ackWaitSeconds * 1000) / 3));
  t.unref();
  return t;
}
