import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "../logger.js";

/**
 * The durability barrier's subjects (docs/decisions/0009-durability-barrier.md). Outside `vigil.>` on
 * purpose: the event stream must not capture them. `vigil up` fsyncs the server's store and then
 * announces `{ stream, seq, created }` on `announce`: every message of `stream` up to `seq` survives a
 * power cut. A request on `sync` runs a barrier now and is answered with the same announcement.
 */
export function durabilitySubjects(device: string): { announce: string; sync: string } {
  return { announce: `$VIGIL.durable.${device}`, sync: `$VIGIL.durable.${device}.sync` };
}

/** What the barrier announces. `created` changes when the stream was re-created (its sequences start over). */
export interface DurableMark {
  stream: string;
  seq: number;
  created: string;
}

export interface DurableWatch {
  /** Asks for a barrier now and returns its mark. */
  syncNow(): Promise<DurableMark>;
  stop(): void;
}

/** Listens to the barrier's announcements; `syncNow` asks for a barrier and returns its mark. */
export function watchDurable(nc: NatsConnection, device: string, onMark: (m: DurableMark) => void, log?: Logger): DurableWatch {
  const subjects = durabilitySubjects(device);
  const parse = (data: Uint8Array): DurableMark | undefined => {
    try {
      const m = JSON.parse(new TextDecoder().decode(data)) as DurableMark;
      return typeof m.seq === "number" && typeof m.created === "string" ? m : undefined;
    } catch {
      return undefined;
    }
  };
  const sub: Subscription = nc.subscribe(subjects.announce, {
    callback: (err, msg) => {
      if (err) return log?.warn({ err: err.message, subject: subjects.announce }, "cannot hear the durability barrier: acknowledged events stay in the outbox");
      const m = parse(msg.data);
      if (m) onMark(m);
      else log?.warn({ subject: subjects.announce }, "durability barrier: announcement not understood, ignored");
    },
  });
  return {
    async syncNow() {
      const r = await nc.request(subjects.sync, undefined, { timeout: 2_000 });
      const m = parse(r.data);
      if (!m) throw new Error("durability barrier: reply not understood");
      return m;
    },
    stop: () => sub.unsubscribe(),
  };
}
