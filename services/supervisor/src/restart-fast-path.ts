import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeEvent, is, restartCommands, traceAt, type Logger, type VigilEvent } from "@vigil/events";

/**
 * The decider's restarts, heard as they are published (docs/decisions/0013-restarts-heard-live.md).
 * A command reaches the supervisor from its durable consumer only after the stream stored it and the
 * consumer's next delivery: under `vigil up`'s load that is a whole JetStream hop on the recovery path
 * (issue 13). The same command on a core subscription arrives as the server routes the publish, so a
 * decider's restart runs from there; the consumer's delivery of it then finds it run (commands.ts:
 * claimed before any await, acked once its record is written). Only the decider's restarts: they
 * answer one crash each and carry their own supersede checks, so one that arrives out of order with
 * a later one does no harm; an operator's commands (stop, start, …) keep the stream's order alone.
 * What is heard but not valid is left to the consumer, which dead-letters it.
 */
export function listenForRestarts(nc: NatsConnection, device: string, handle: (e: VigilEvent) => Promise<void>, log: Logger): () => void {
  const sub: Subscription = nc.subscribe(restartCommands(device), {
    callback: (err, m) => {
      traceAt("sup.live");
      if (err) return log.warn({ err: err.message }, "restart commands: live subscription failed; the stream still delivers them");
      let e: VigilEvent;
      try {
        e = decodeEvent(m.subject, m.data);
      } catch {
        return; // the consumer sees it too, and dead-letters it with the reason
      }
      if (!is(e, "cmd.worker.restart") || e.data.requestedBy !== "decider") return;
      handle(e).catch((err: unknown) => log.debug({ command: e.id, err: err instanceof Error ? err.message : String(err) }, "live restart failed; the stream's delivery retries it"));
    },
  });
  return () => sub.unsubscribe();
}
