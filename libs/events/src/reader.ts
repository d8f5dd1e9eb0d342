import { DeliverPolicy, jetstream, type ConsumerMessages } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeEvent } from "./codec.js";
import type { VigilEvent } from "./envelope.js";

export type EventWithSeq = VigilEvent & { seq: number };

/** Where a read starts: every stored event, only new ones, from a stream sequence or from a time. */
export type ReadStart = "all" | "new" | { seq: number } | { time: Date };

/** The ordered consumer's deliver policy for a read start (shared by every reader of the stream). */
export function startPosition(from: ReadStart) {
  return from === "all"
    ? { deliver_policy: DeliverPolicy.All }
    : from === "new"
      ? { deliver_policy: DeliverPolicy.New }
      : "seq" in from
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, from.seq) }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.time.toISOString() };
}

export interface TailOptions {
  stream?: string;
  /** One subject filter, e.g. `vigil.edge-001.>`. */
  filter?: string;
  /** Where to start: every stored event, only new ones, from a stream sequence or from a time. */
  from?: ReadStart;
  /** Called for payloads that are not valid events (they are shown, not hidden). */
  onInvalid?: (subject: string, seq: number, reason: string) => void;
}

export interface Tail {
  stop(): Promise<void>;
  /** Resolves when the tail ends (stopped, or the connection closed). */
  done: Promise<void>;
}

/**
 * Reads events in stream order with an ordered consumer (ephemeral, no acks, survives server
 * restarts): what `vigil events`, the live feed and replays use.
 */
export async function tailEvents(nc: NatsConnection, opts: TailOptions, onEvent: (e: EventWithSeq) => void): Promise<Tail> {
  const js = jetstream(nc);
  const start = startPosition(opts.from ?? "all");
  const consumer = await js.consumers.get(opts.stream ?? "VIGIL", { filter_subjects: opts.filter ?? "vigil.>", ...start });
  const messages: ConsumerMessages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      try {
        onEvent({ ...decodeEvent(m.subject, m.data), seq: m.seq });
      } catch (err) {
        opts.onInvalid?.(m.subject, m.seq, (err as Error).message);
      }
    }
  })().catch(() => undefined);
  return {
    done,
    async stop() {
      messages.stop();
      await done;
    },
  };
}
