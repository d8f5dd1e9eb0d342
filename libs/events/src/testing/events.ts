import type { NatsConnection } from "@nats-io/transport-node";
import type { VigilEvent } from "../envelope.js";
import { tailEvents } from "../reader.js";

export interface EventLog {
  /** Every event read so far, in stream order, with its stream sequence. */
  readonly events: Array<VigilEvent & { seq: number }>;
  /** Resolves with the first event (already read or still to come) that matches, or rejects after timeoutMs naming what it waited for. */
  waitFor(what: string, pred: (e: VigilEvent & { seq: number }) => boolean, timeoutMs?: number): Promise<VigilEvent & { seq: number }>;
  /** Waits until `count` events match. */
  waitForCount(what: string, pred: (e: VigilEvent) => boolean, count: number, timeoutMs?: number): Promise<VigilEvent[]>;
  close(): Promise<void>;
}

/**
 * Reads the stream with an ordered consumer (the way a user replays it), so tests wait on events,
 * not on sleeps, and see everything the stream holds — also what arrived while they were not looking.
 */
export async function watchEvents(nc: NatsConnection, opts: { stream?: string; filter?: string } = {}): Promise<EventLog> {
  const events: Array<VigilEvent & { seq: number }> = [];
  const waiters = new Set<() => void>();
  const tail = await tailEvents(nc, { stream: opts.stream, filter: opts.filter, from: "all" }, (e) => {
    events.push(e);
    for (const w of [...waiters]) w();
  });

  function waitForCount(what: string, pred: (e: VigilEvent) => boolean, count: number, timeoutMs = 10_000): Promise<VigilEvent[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = events.filter(pred);
        if (found.length >= count) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const seen = events.slice(-15).map((e) => `${e.seq} ${e.type.replace("io.vigil.", "")} ${JSON.stringify(e.data).slice(0, 120)}`);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count}× ${what} (have ${events.filter(pred).length}); last events:\n${seen.join("\n")}`));
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  }

  return {
    events,
    waitFor: async (what, pred, timeoutMs) => {
      const [first] = await waitForCount(what, pred as (e: VigilEvent) => boolean, 1, timeoutMs);
      return first as VigilEvent & { seq: number };
    },
    waitForCount,
    close: () => tail.stop(),
  };
}

/** Resolves at the connection's next reconnect (call before restarting the server). */
export function nextReconnect(nc: NatsConnection, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reconnect within ${timeoutMs} ms`)), timeoutMs);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "reconnect") {
          clearTimeout(timer);
          resolve();
          return;
        }
      }
    })();
  });
}
