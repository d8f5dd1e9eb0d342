import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger, TelemetryConfig } from "@vigil/events";
import type { Uploader } from "./upload.js";
import { createBatchProcessor } from "./forward/batch.js";
import { createUploadBreaker } from "./forward/breaker.js";
import { systemClock, type Clock } from "./forward/clock.js";
import { resumeConsumer, streamFirstSeq } from "./forward/consumer.js";
import { createDelivery } from "./forward/delivery.js";
import { createFailureReporter } from "./forward/failure-report.js";
import { startFetchLoop } from "./forward/fetch-loop.js";
import { createStopSignal } from "./forward/stop-signal.js";
import type { BreakerState, Emit, ForwardContext, ForwarderStats } from "./forward/types.js";

export type { BreakerState, ForwarderStats } from "./forward/types.js";
export type { Clock } from "./forward/clock.js";

export interface ForwarderOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  device: string;
  config: TelemetryConfig;
  uploader: Uploader;
  log: Logger;
  /** Publishes one of telemetry's own events (breaker, loss, failures, dead letters). */
  emit: Emit;
  /** Wall-clock time (Retry-After dates, breaker open time, failure report spacing); default Date.now. */
  clock?: Clock;
}

export interface Forwarder {
  stats(): ForwarderStats;
  breaker(): BreakerState;
  /** Events in the stream not yet confirmed by the cloud (consumer num_pending + num_ack_pending). */
  backlog(): Promise<number>;
  /** Lets the upload in flight finish (and be acked), then stops; nothing unconfirmed is acked. */
  stop(): Promise<void>;
}

/**
 * Durable pull consumer → cloud. The consumer acks cumulatively (AckPolicy.All): one ack after a
 * batch's 2xx covers the batch, and a restart recreates the consumer just after its ack floor, so
 * what was in flight at a crash is sent again at once (the sink de-duplicates by id) instead of
 * after ack_wait. Up to UPLOAD_WINDOW batches are uploaded at once (each in stream order inside),
 * acked in stream order, while the next is fetched.
 * The parts live in ./forward/; this wires them.
 */
export async function startForwarder(o: ForwarderOptions): Promise<Forwarder> {
  const { js, jsm, stream, config: cfg, log } = o;
  const clock = o.clock ?? systemClock;
  const filter = cfg.filter ?? `vigil.${o.device}.>`;
  const { consumer, start } = await resumeConsumer(js, jsm, stream, cfg, filter);
  log.info({ filter, durable: cfg.durable, resumeAt: start, url: cfg.url }, "forwarding");

  const stats: ForwarderStats = { forwarded: 0, resent: 0, skipped: 0, deadLettered: 0, lost: 0, batches: 0, failures: 0, sentBytes: 0, lastSeq: start - 1, ackedSeq: start - 1 };
  const ctx: ForwardContext = { stream, durable: cfg.durable, cfg, log, emit: o.emit, stats };
  const stop = createStopSignal();
  const backlog = async (): Promise<number> => {
    const ci = await jsm.consumers.info(stream, cfg.durable);
    return ci.num_pending + ci.num_ack_pending;
  };
  const breaker = createUploadBreaker({ ...ctx, uploader: o.uploader, clock, stop, backlogOrZero: () => backlog().catch(() => 0) });
  const deliver = createDelivery({ ...ctx, breaker, stop, failures: createFailureReporter(ctx, clock) });
  const batches = createBatchProcessor({ ...ctx, deliver, streamFirstSeq: () => streamFirstSeq(jsm, stream, log, stop.sleep) });
  const loop = startFetchLoop({ consumer, cfg, log, stop, batches });

  return {
    stats: () => ({ ...stats }),
    breaker: () => breaker.state(),
    backlog,
    async stop() {
      stop.stop();
      await loop.done;
      loop.close();
      breaker.shutdown();
    },
  };
}
