import { traceAt, tracing } from "./trace-timing.js";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeEvent, eventName, InvalidEventError } from "./codec.js";
import { sourceMismatch } from "./owners.js";
import type { VigilEvent } from "./envelope.js";
import type { Logger } from "./logger.js";
import type { Publisher } from "./publisher.js";
import { isNotFound } from "./stream.js";
import { createDeadLetters } from "./dead-letters.js";

export interface ConsumerOptions {
  stream: string;
  durable: string;
  /** One subject filter (a 2.9 server takes only one). */
  filterSubject: string;
  /** Handles one valid event. Throwing → redelivery with a delay; after maxDeliver attempts → dead letter. */
  handler: (event: VigilEvent, msg: JsMsg) => Promise<void>;
  /** Receives dead letters (invalid payloads, handlers that keep failing). */
  deadLetters: Publisher;
  log: Logger;
  ackWaitMs?: number;
  maxDeliver?: number;
  /** Messages buffered client-side; small, so slow handlers do not pass ack_wait. */
  maxMessages?: number;
  /** Recreate the consumer to deliver from this stream sequence (the decider resumes from its snapshot). */
  startSeq?: number;
  /**
   * The handler retries by itself, in place (the decider, whose fold is order-dependent): a throw is
   * final and dead-lettered at once, not redelivered after later events were handled.
   */
  deadLetterOnHandlerError?: boolean;
  /**
   * Dead letters of invalid or forged payloads in flight at once (dead-letters.ts; default 256), one
   * log line per burst. 1: each awaited and logged on its own (the old path, the benchmark's baseline).
   */
  deadLetterWindow?: number;
  /** Dead letters one per message per second before a flood is summarised (default DEAD_LETTER_RATE). */
  deadLetterRate?: number;
}

export interface RunningConsumer {
  /** Stops fetching, lets the message in hand finish and be acked, then resolves. */
  stop(): Promise<void>;
  /** Counts since start. */
  stats(): { handled: number; deadLettered: number; failed: number };
}

const NS_PER_MS = 1_000_000;

/**
 * A durable pull consumer with explicit acks. An invalid payload, or one whose `source` names a service
 * that may not publish its type (EVENT_OWNERS), never reaches the handler: it is
 * published to the dead-letter subject with the reason and terminated (term() without a reason: 2.9
 * ignores term reasons and would redeliver).
 */
export async function startConsumer(nc: NatsConnection, o: ConsumerOptions): Promise<RunningConsumer> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const js = jetstream(nc);
  const maxDeliver = o.maxDeliver ?? 5;
  const config = {
    durable_name: o.durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: o.filterSubject,
    ack_wait: (o.ackWaitMs ?? 30_000) * NS_PER_MS,
    max_deliver: maxDeliver,
    max_ack_pending: 1_000,
    ...(o.startSeq !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, o.startSeq) }
      : { deliver_policy: DeliverPolicy.All }),
  };
  if (o.startSeq !== undefined) {
    // The start position of an existing durable cannot be changed: recreate it.
    await jsm.consumers.delete(o.stream, o.durable).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
    await jsm.consumers.add(o.stream, config);
  } else {
    try {
      await jsm.consumers.info(o.stream, o.durable);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(o.stream, config);
    }
  }
  const consumer = await js.consumers.get(o.stream, o.durable);
  const stats = { handled: 0, deadLettered: 0, failed: 0 };
  let stopping = false;
  let messages: ConsumerMessages | undefined;

  // A flood of bad payloads must not cost a round trip and a log line each (issue 13: 100,000 took
  // ~100 s of saturated CPU): their dead letters go out in a bounded window, logged once per burst.
  const deadLetters = createDeadLetters({
    consumer: o.durable,
    stream: o.stream,
    publisher: o.deadLetters,
    log: o.log,
    window: o.deadLetterWindow,
    ...(o.deadLetterRate ? { rate: o.deadLetterRate } : {}),
    onDeadLettered: () => stats.deadLettered++,
  });
  const deadLetter = (m: JsMsg, reason: string) => deadLetters.send(m, reason);

  // The acks of the messages handled in one turn of the event loop go out together, in one socket
  // write: one write per ack was a fifth of the decider's CPU on a backlog (bench/results/decider.md).
  // Still after the handler finished; a crash before the write redelivers, as before.
  let acks: JsMsg[] = [];
  let ackFlush: NodeJS.Immediate | undefined;
  const flushAcks = () => {
    ackFlush = undefined;
    const batch = acks;
    acks = [];
    for (const a of batch) a.ack();
  };
  const ack = (m: JsMsg) => {
    acks.push(m);
    ackFlush ??= setImmediate(flushAcks);
  };

  async function handle(m: JsMsg): Promise<void> {
    if (tracing() && m.subject.includes(".worker.")) traceAt("con.msg", { durable: o.durable, subject: m.subject });
    let event: VigilEvent;
    try {
      event = decodeEvent(m.subject, m.data);
    } catch (err) {
      if (err instanceof InvalidEventError) return deadLetter(m, err.message);
      throw err;
    }
    // The server refuses foreign subjects to each service's user; this catches what a user allowed
    // more (admin, or a server without users) published in a service's name (owners.ts).
    const forged = sourceMismatch(event, eventName(event)!);
    if (forged) return deadLetter(m, forged);
    try {
      if (tracing() && m.subject.includes(".worker.")) traceAt("con.handler", { durable: o.durable, subject: m.subject });
      await o.handler(event, m);
      stats.handled++;
      ack(m);
    } catch (err) {
      stats.failed++;
      const attempt = m.info.deliveryCount;
      const msg = (err as Error).message;
      // Awaited: the handler's order matters (the decider settles the event before folding later ones).
      if (o.deadLetterOnHandlerError) return deadLetters.sendNow(m, `handler failed: ${msg}`);
      if (attempt >= maxDeliver) return deadLetter(m, `handler failed ${attempt} times: ${msg}`);
      o.log.warn({ err: msg, subject: m.subject, seq: m.seq, attempt }, "handler failed, will retry");
      m.nak(Math.min(10_000, 250 * 2 ** (attempt - 1)));
    }
  }

  const loop = (async () => {
    while (!stopping) {
      try {
        messages = await consumer.consume({ max_messages: o.maxMessages ?? 16 });
        for await (const m of messages) {
          try {
            await handle(m);
          } catch (err) {
            // Dead-lettering itself failed (bus down): leave it unacked, it comes back after ack_wait.
            o.log.error({ err: (err as Error).message, seq: m.seq }, "could not process message");
          }
          if (stopping) break;
        }
      } catch (err) {
        if (stopping) break;
        o.log.warn({ err: (err as Error).message }, "consumer interrupted, resuming");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();

  return {
    async stop() {
      stopping = true;
      messages?.stop();
      await loop;
      clearImmediate(ackFlush);
      flushAcks();
      await deadLetters.drain();
    },
    stats: () => ({ ...stats }),
  };
}
