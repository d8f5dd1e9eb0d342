import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger, TelemetryConfig } from "@vigil/events";
import type { ProcessBatch } from "./batch.js";
import { Stopped, type StopSignal } from "./stop-signal.js";

export interface FetchLoopDeps {
  consumer: Consumer;
  cfg: TelemetryConfig;
  log: Logger;
  stop: StopSignal;
  processBatch: ProcessBatch;
}

/** The running loop: `done` settles once it has stopped; `close()` stops keeping held messages alive. */
export interface FetchLoop {
  done: Promise<void>;
  close(): void;
}

/**
 * Fetches batches and processes them one at a time, in stream order, fetching the next while one is
 * uploaded. A batch is retried until it is done: the next cumulative ack would confirm it too.
 */
export function startFetchLoop(d: FetchLoopDeps): FetchLoop {
  const held = new Set<JsMsg[]>();
  const keepAlive = keepHeldAlive(held, d.cfg);
  const fetchBatch = async (): Promise<JsMsg[]> => {
    const msgs = await fetchOnce(d);
    if (msgs.length > 0) held.add(msgs);
    return msgs;
  };
  const done = (async () => {
    let next: Promise<JsMsg[]> | undefined;
    while (!d.stop.stopping) {
      const msgs = await (next ?? fetchBatch());
      next = undefined;
      if (d.stop.stopping) break;
      if (msgs.length === 0) continue;
      next = fetchBatch(); // fetch ahead while this batch is uploaded
      const finished = await processUntilDone(d, msgs);
      held.delete(msgs);
      if (!finished) break;
    }
    await next?.catch(() => undefined);
  })();
  return { done, close: () => clearInterval(keepAlive) };
}

/** Up to batchMaxEvents messages within batchMaxWaitMs; none after an interrupted fetch (after a short pause). */
async function fetchOnce(d: FetchLoopDeps): Promise<JsMsg[]> {
  const msgs: JsMsg[] = [];
  try {
    const iter = await d.consumer.fetch({ max_messages: d.cfg.batchMaxEvents, expires: d.cfg.batchMaxWaitMs });
    for await (const m of iter) msgs.push(m);
  } catch (err) {
    if (msgs.length === 0 && !d.stop.stopping) {
      d.log.debug({ err: (err as Error).message }, "fetch interrupted");
      await d.stop.sleep(500).catch(() => undefined);
    }
  }
  return msgs;
}

/** True once the batch is done, false when shutdown interrupted it (then it is not acked). */
async function processUntilDone(d: FetchLoopDeps, msgs: JsMsg[]): Promise<boolean> {
  while (!d.stop.stopping) {
    try {
      await d.processBatch(msgs);
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
 * Held messages (the batch being uploaded and the one fetched ahead) must not pass ack_wait while an
 * outage lasts, or NATS would hand them out again.
 */
function keepHeldAlive(held: Set<JsMsg[]>, cfg: TelemetryConfig): NodeJS.Timeout {
  const t = setInterval(() => {
    for (const batch of held) for (const m of batch) m.working();
  }, Math.max(1_000, (cfg.ackWaitSeconds * 1000) / 3));
  t.unref();
  return t;
}
