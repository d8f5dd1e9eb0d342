import { UploadFailure, describeError } from "./breaker.js";
import type { Clock } from "./clock.js";
import { firstAndLastSeq, type ForwardContext, type Item } from "./types.js";

/** How often the same failure is reported again while it lasts. */
const REPEAT_MS = 30_000;

/** Reports failed uploads without flooding: the first of a streak, a new reason, or every 30 s. */
export interface FailureReporter {
  report(err: unknown, items: Item[], retryInMs: number): void;
  /** A delivery succeeded: the next failure starts a new streak. */
  reset(): void;
}

export function createFailureReporter(ctx: ForwardContext, clock: Clock): FailureReporter {
  let reported = { reason: "", at: 0 };
  return {
    report(err, items, retryInMs) {
      const reason = describeError(err);
      const now = clock.now();
      if (reason === reported.reason && now - reported.at < REPEAT_MS) return;
      reported = { reason, at: now };
      const status = err instanceof UploadFailure ? err.status : undefined;
      ctx.log.warn({ err: reason, status, events: items.length, retryInMs }, "upload failed; nothing acked, will retry");
      void ctx.emit("sys.telemetry.upload.failed", {
        ...(status !== undefined ? { status } : {}),
        error: reason,
        events: items.length,
        ...firstAndLastSeq(items),
        retryInMs: Math.round(retryInMs),
      });
    },
    reset() {
      reported = { reason: "", at: 0 };
    },
  };
}
