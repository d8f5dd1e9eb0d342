import { jetstreamManager } from "@nats-io/jetstream";
import { tailEvents, type EventWithSeq, type NatsConnection, type TailOptions } from "@vigil/events";

export interface ReadOptions {
  stream: string;
  filter: string;
  from: NonNullable<TailOptions["from"]>;
  /** Stop after this stream sequence (default: the stream's last sequence when the read starts). */
  untilSeq?: number;
  /** Keep at most this many matching events (the read stops there). */
  limit?: number;
  /** Keep only the events this accepts. */
  where?: (e: EventWithSeq) => boolean;
  /** Gives up waiting for more after this long without a message (the filter may not match the last event). */
  idleMs?: number;
}

/**
 * Reads stored events, in stream order, up to the stream's current end, and returns them: what the
 * incident timeline, replay and `/api/events` need. Uses an ordered consumer, so nothing is acked and
 * nothing is left behind.
 */
export async function readEvents(nc: NatsConnection, o: ReadOptions): Promise<{ events: EventWithSeq[]; lastSeq: number; truncated: boolean }> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const info = await jsm.streams.info(o.stream);
  const last = Math.min(o.untilSeq ?? Number.MAX_SAFE_INTEGER, info.state.last_seq);
  const events: EventWithSeq[] = [];
  if (last === 0 || (typeof o.from === "object" && "seq" in o.from && o.from.seq > last)) return { events, lastSeq: info.state.last_seq, truncated: false };
  const limit = o.limit ?? 100_000;
  let truncated = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(finish, o.idleMs ?? 1_500);
  };
  const tail = await tailEvents(nc, { stream: o.stream, filter: o.filter, from: o.from }, (e) => {
    armIdle();
    if (e.seq > last) return finish();
    if (!o.where || o.where(e)) {
      if (events.length >= limit) {
        truncated = true;
        return finish();
      }
      events.push(e);
    }
    if (e.seq >= last) finish();
  });
  armIdle();
  await finished;
  if (idle) clearTimeout(idle);
  await tail.stop();
  return { events, lastSeq: info.state.last_seq, truncated };
}
