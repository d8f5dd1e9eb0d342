import { jetstream, jetstreamManager, type ConsumerMessages } from "@nats-io/jetstream";
import { decodeEvent, startPosition, type EventWithSeq, type NatsConnection, type ReadStart } from "@vigil/events";

export type { ReadStart };

/**
 * The server deletes a reader's consumer this long after nobody pulls from it: a gateway that dies
 * mid-read leaves nothing behind for long (nats.js's ordered consumers default to 5 minutes, and their
 * recreations after a server restart keep that). Readers that end normally delete theirs at once.
 */
export const READER_INACTIVE_MS = 10_000;

export interface GatewayTail {
  /** Stops reading and deletes the consumer (the server would reap it after READER_INACTIVE_MS anyway). */
  stop(): Promise<void>;
  /** Resolves when the tail ends. */
  done: Promise<void>;
  /** Matching events stored after the start point when the consumer was created. */
  pendingAtStart: number;
}

/**
 * An ordered consumer (ephemeral, no acks, recreated after a server restart) over one subject filter:
 * stream order, each event with the number still pending after it.
 */
export async function openTail(nc: NatsConnection, o: { stream: string; filter: string; from: ReadStart; onInvalid?: (subject: string, seq: number) => void }, onEvent: (e: EventWithSeq, pending: number) => void): Promise<GatewayTail> {
  const start = startPosition(o.from);
  const consumer = await jetstream(nc).consumers.get(o.stream, { filter_subjects: o.filter, inactive_threshold: READER_INACTIVE_MS, ...start });
  const pendingAtStart = (await consumer.info(true)).num_pending;
  let messages: ConsumerMessages;
  try {
    messages = await consumer.consume({ max_messages: 256 });
  } catch (err) {
    await consumer.delete().catch(() => undefined);
    throw err;
  }
  const done = (async () => {
    for await (const m of messages) {
      let e: EventWithSeq;
      try {
        e = { ...decodeEvent(m.subject, m.data), seq: m.seq };
      } catch {
        o.onInvalid?.(m.subject, m.seq);
        continue;
      }
      onEvent(e, m.info.pending);
    }
  })().catch(() => undefined);
  let stopping: Promise<void> | undefined;
  return {
    done,
    pendingAtStart,
    stop() {
      stopping ??= (async () => {
        messages.stop();
        await done;
        // The consumer's current name (it changes when the client recreates it after a restart).
        await consumer.delete().catch(() => undefined);
      })();
      return stopping;
    },
  };
}

export interface ReadOptions {
  stream: string;
  filter: string;
  from: Exclude<ReadStart, "new">;
  /** Stop after this stream sequence (default: the stream's last sequence when the read starts). */
  untilSeq?: number;
  /** Keep at most this many matching events; `next` then says where the rest starts. */
  limit: number;
  /** Keep only the events this accepts. */
  where?: (e: EventWithSeq) => boolean;
  /** Ends the read at the first event this accepts (not kept). */
  endAt?: (e: EventWithSeq) => boolean;
  /** A safety net: give up after this long without a message (the server normally says when nothing is left). */
  idleMs?: number;
}

export interface ReadResult {
  events: EventWithSeq[];
  /** The stream's last sequence when the read started. */
  lastSeq: number;
  /** The stream sequence to continue from (the first matching event not returned), or null when the read reached its end. */
  next: number | null;
  /** Events the consumer delivered, kept or not: what the read cost. */
  scanned: number;
}

/**
 * Reads stored events, in stream order, up to `untilSeq` or the stream's current end, at most `limit`
 * kept: what incident timelines, replays and `/api/events` pages need. Its consumer is deleted when the
 * read ends, however it ends.
 */
export async function readEvents(nc: NatsConnection, o: ReadOptions): Promise<ReadResult> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const lastSeq = (await jsm.streams.info(o.stream)).state.last_seq;
  const last = Math.min(o.untilSeq ?? Number.MAX_SAFE_INTEGER, lastSeq);
  const events: EventWithSeq[] = [];
  let next: number | null = null;
  let scanned = 0;
  if (last === 0 || (typeof o.from === "object" && "seq" in o.from && o.from.seq > last)) return { events, lastSeq, next, scanned };
  let ended = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = () => ((ended = true), r())));
  let idle: NodeJS.Timeout | undefined;
  let lastSeen = 0;
  const armIdle = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => {
      // Should not happen (the server reports what is pending): say where to pick up rather than drop it.
      if (lastSeen > 0 && lastSeen < last) next = lastSeen + 1;
      finish();
    }, o.idleMs ?? 10_000);
  };
  const tail = await openTail(nc, { stream: o.stream, filter: o.filter, from: o.from }, (e, pending) => {
    if (ended) return;
    armIdle();
    scanned++;
    lastSeen = e.seq;
    if (e.seq > last || o.endAt?.(e)) return finish();
    if (!o.where || o.where(e)) {
      if (events.length >= o.limit) {
        next = e.seq;
        return finish();
      }
      events.push(e);
    }
    if (e.seq >= last || pending === 0) finish();
  });
  try {
    if (tail.pendingAtStart === 0) finish();
    else armIdle();
    await finished;
  } finally {
    if (idle) clearTimeout(idle);
    await tail.stop();
  }
  return { events, lastSeq, next, scanned };
}
