import type { DataInput, EventName, Logger, TelemetryConfig } from "@vigil/events";

/** One event on its way to the cloud: its stream sequence, subject and stored bytes. */
export interface Item {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

/** Publishes one of telemetry's own events (breaker, loss, failures, dead letters). */
export type Emit = <N extends EventName>(name: N, data: DataInput<N>) => Promise<unknown>;

export type BreakerState = "closed" | "open" | "halfOpen";

export interface ForwarderStats {
  /** Events the cloud confirmed (2xx). */
  forwarded: number;
  /** Events the cloud said it already had (sent again after a crash or a lost answer). */
  resent: number;
  /** Events not forwarded by a downsampling rule (acked). */
  skipped: number;
  deadLettered: number;
  /** Events the stream discarded before they were forwarded. */
  lost: number;
  batches: number;
  failures: number;
  /** Bytes put on the wire for delivered batches. */
  sentBytes: number;
  /** The highest stream sequence delivered to this consumer. */
  lastSeq: number;
  /** The highest stream sequence acked (everything up to it is done). */
  ackedSeq: number;
}

/** What every part of the forwarder shares: where it forwards from, its settings, log and events. */
export interface ForwardContext {
  stream: string;
  durable: string;
  cfg: TelemetryConfig;
  log: Logger;
  emit: Emit;
  stats: ForwarderStats;
}

export function firstAndLastSeq(items: Item[]): { firstSeq: number; lastSeq: number } {
  return { firstSeq: items[0]!.seq, lastSeq: items.at(-1)!.seq };
}
