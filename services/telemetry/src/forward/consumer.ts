import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type Consumer } from "@nats-io/jetstream";
import { isNotFound, type Logger, type TelemetryConfig } from "@vigil/events";

const NS_PER_MS = 1_000_000;

export interface ForwardConsumer {
  consumer: Consumer;
  /** The first stream sequence this run forwards. */
  start: number;
}

/**
 * (Re)creates the durable pull consumer just after what the cloud confirmed (its ack floor), so what
 * was in flight at a crash is sent again at once rather than after ack_wait.
 */
export async function resumeConsumer(js: JetStreamClient, jsm: JetStreamManager, stream: string, cfg: TelemetryConfig, filter: string): Promise<ForwardConsumer> {
  const durable = cfg.durable;
  let ackFloor: number | undefined;
  try {
    const info = await jsm.consumers.info(stream, durable);
    ackFloor = info.ack_floor.stream_seq;
    await jsm.consumers.delete(stream, durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  // A brand-new consumer starts at what the stream holds now (what predates telemetry is not "lost").
  const start = ackFloor !== undefined ? ackFloor + 1 : Math.max(1, (await jsm.streams.info(stream)).state.first_seq);
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, start),
    filter_subject: filter,
    ack_wait: cfg.ackWaitSeconds * 1000 * NS_PER_MS,
    max_deliver: -1,
    max_ack_pending: cfg.batchMaxEvents * 4,
  });
  return { consumer: await js.consumers.get(stream, durable), start };
}

/** The stream's first sequence now; retried every second until NATS answers (sleep rejects on shutdown). */
export async function streamFirstSeq(jsm: JetStreamManager, stream: string, log: Logger, sleep: (ms: number) => Promise<void>): Promise<number> {
  for (;;) {
    try {
      return (await jsm.streams.info(stream)).state.first_seq;
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot read the stream's state; retrying");
      await sleep(1_000);
    }
  }
}
