import type { DataInput, EventName } from "./catalog.js";
import type { Logger } from "./logger.js";
import type { Publisher } from "./publisher.js";

/** Records an event; a failure is logged, never thrown into the caller's path (observations must not stop a service). */
export type Emit = <N extends EventName>(name: N, data: DataInput<N>, meta?: Parameters<Publisher["emit"]>[2]) => Promise<void>;

export function emitOrLog(bus: Publisher, log: Logger): Emit {
  return (name, data, meta) =>
    bus.emit(name, data, meta).then(
      () => undefined,
      (err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err), type: name }, "could not record event"),
    );
}
