import { backoffMs, bisect } from "../policy.js";
import type { UploadBreaker, UploadOutcome } from "./breaker.js";
import type { FailureReporter } from "./failure-report.js";
import { Stopped, type StopSignal } from "./stop-signal.js";
import type { ForwardContext, Item } from "./types.js";

/** What a dead letter keeps of a refused event's payload. */
const MAX_DL_PAYLOAD = 64 * 1024;

export interface DeliveryDeps extends ForwardContext {
  breaker: UploadBreaker;
  stop: StopSignal;
  failures: FailureReporter;
}

/** Resolves when every item was confirmed by the cloud or dead-lettered; throws Stopped on shutdown. */
export type Deliver = (items: Item[]) => Promise<void>;

/**
 * Sends a batch until it is done: retries failures with backoff (or waits for the open breaker's
 * probe), waits as long as a 429 asks, and bisects a batch whose content the cloud refuses until
 * the refused events are alone, then dead-letters them.
 */
export function createDelivery(d: DeliveryDeps): Deliver {
  const deliver: Deliver = async (items) => {
    const backoff = { attempt: 0 };
    for (;;) {
      if (d.stop.stopping) throw new Stopped();
      await d.breaker.untilAllows();
      const outcome = await attemptUpload(d, items, backoff);
      if (!outcome) continue;
      const { verdict, res } = outcome;
      if (verdict.kind === "delivered") return recordDelivered(d, items, res.sentBytes, res.body);
      if (verdict.kind === "throttled") {
        d.log.info({ waitMs: verdict.waitMs }, "the cloud asked us to slow down (429)");
        await d.stop.sleep(verdict.waitMs);
        continue;
      }
      if (verdict.kind === "blamed") {
        if (items.length === 1) return deadLetter(d, items[0]!, verdict.reason);
        const [left, right] = bisect(items);
        await deliver(left);
        await deliver(right);
        return;
      }
    }
  };
  return deliver;
}

/**
 * One upload through the breaker. Undefined when there is no answer to act on: the open breaker
 * refused without trying (the caller waits for its probe), or the upload failed — reported, and
 * waited out with backoff unless the breaker is now open (then its probe is the next try).
 */
async function attemptUpload(d: DeliveryDeps, items: Item[], backoff: { attempt: number }): Promise<UploadOutcome | undefined> {
  try {
    return await d.breaker.fire(items);
  } catch (err) {
    if (d.stop.stopping) throw new Stopped();
    // Refused without trying: the breaker is open, or half-open with another batch as its probe.
    // Wait for its next transition; retrying at once would spin and starve the probe's answer.
    if ((err as { code?: string }).code === "EOPENBREAKER") {
      if (!d.breaker.opened) await d.breaker.untilTransition();
      return undefined;
    }
    d.stats.failures++;
    const wait = d.breaker.opened ? d.cfg.breaker.resetTimeoutMs : backoffMs(backoff.attempt++, d.cfg.retryBaseMs, d.cfg.retryCapMs, Math.random());
    d.failures.report(err, items, wait);
    if (!d.breaker.opened) await d.stop.sleep(wait);
    return undefined;
  }
}

function recordDelivered(d: DeliveryDeps, items: Item[], sentBytes: number, body: string): void {
  d.stats.batches++;
  d.stats.forwarded += items.length;
  d.stats.sentBytes += sentBytes;
  d.stats.resent += duplicatesIn(body);
  d.failures.reset();
}

async function deadLetter(d: DeliveryDeps, item: Item, reason: string): Promise<void> {
  d.stats.deadLettered++;
  d.log.warn({ seq: item.seq, subject: item.subject, reason }, "the cloud refused an event: dead-lettered");
  await d.emit("sys.deadletter", {
    consumer: d.durable,
    reason: `the cloud refused it: ${reason}`,
    subject: item.subject,
    stream: d.stream,
    streamSeq: item.seq,
    payload: new TextDecoder().decode(item.data.subarray(0, MAX_DL_PAYLOAD)),
  });
}

/** The sink answers `{"duplicates": n}` for events it already had. */
function duplicatesIn(body: string): number {
  try {
    const d = (JSON.parse(body) as { duplicates?: unknown }).duplicates;
    return typeof d === "number" && d > 0 ? d : 0;
  } catch {
    return 0;
  }
}
