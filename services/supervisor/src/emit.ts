import type { DataInput, EventName, Logger, Publisher } from "@vigil/events";

/** Records an event through the outbox; a failure is logged, never thrown into the caller's path. */
export type Emit = <N extends EventName>(name: N, data: DataInput<N>, meta?: Parameters<Publisher["emit"]>[2]) => Promise<void>;

export function emitOrLog(bus: Publisher, log: Logger): Emit {
  return (name, data, meta) =>
    bus.emit(name, data, meta).then(
      () => undefined,
      (err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err), type: name }, "could not record event"),
    );
}
