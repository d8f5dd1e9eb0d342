import { performance } from "node:perf_hooks";
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "./logger.js";
import type { Publisher } from "./publisher.js";

const MAX_DL_PAYLOAD = 64 * 1024;
/** Dead letters in flight at once by default: a flood of bad events is published like any burst, not one round trip each. */
export const DEAD_LETTER_WINDOW = 256;
/** While a burst lasts, one log line per this many ms says how many more were dead-lettered. */
export const DEAD_LETTER_BURST_MS = 1_000;
/** Dead letters published one per message, per second; past it a flood is summarised (see `rate`). */
export const DEAD_LETTER_RATE = 200;
/**
 * At most this many messages wait for one summary: they stay unacked until it is stored, and the
 * consumer's max_ack_pending (1,000) must leave room for the window beside them.
 */
export const DEAD_LETTER_SUMMARY_MAX = 500;

export interface DeadLetterOptions {
  consumer: string;
  stream: string;
  publisher: Publisher;
  log: Logger;
  /**
   * Dead letters published without waiting for each one's ack, at most this many in flight (default
   * DEAD_LETTER_WINDOW). 1 is the old path: each publish awaited and logged on its own line (kept as
   * the benchmark's baseline, bench/src/decider.bench.ts).
   */
  window?: number;
  burstMs?: number;
  /**
   * One dead letter per message up to this many per second (a token bucket as deep as a second's
   * worth); past it the rest of a flood is batched: one sys.deadletter per DEAD_LETTER_SUMMARY_MAX
   * messages (or per burstMs) naming the count, the sequence range and the reasons, the first
   * payload as sample. The messages themselves stay in the stream by sequence. Ignored with window 1.
   */
  rate?: number;
  /** Bumped once a dead letter is published (and its message terminated). */
  onDeadLettered?: () => void;
}

export interface DeadLetters {
  /**
   * Publishes the reason and the payload on sys.deadletter, then terminates the message (term()
   * without a reason: 2.9 ignores term reasons and would redeliver). Resolves when the window has
   * room, not when the dead letter is stored; a publish that fails leaves the message unacked, so it
   * comes back after ack_wait.
   */
  send(m: JsMsg, reason: string): Promise<void>;
  /** The same, awaited to the end, and a failure thrown: for dead letters whose order matters (the decider's handler errors). */
  sendNow(m: JsMsg, reason: string): Promise<void>;
  /** Waits for every dead letter in flight and logs what the current burst still owes. */
  drain(): Promise<void>;
}

/** Counts of one burst, logged once per burstMs instead of one line per dead letter. */
function burstLog(log: Logger, consumer: string, burstMs: number) {
  let reasons = new Map<string, number>();
  let failed = 0;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const total = () => [...reasons.values()].reduce((a, b) => a + b, 0);
  function flush(): void {
    const n = total();
    if (n === 0 && failed === 0) {
      // A quiet interval: the burst is over; the next dead letter is logged in full again.
      clearInterval(timer);
      timer = undefined;
      return;
    }
    const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([reason, count]) => ({ reason: reason.slice(0, 200), count }));
    if (n > 0) log.warn({ consumer, count: n, reasons: top, inMs: burstMs }, `dead-lettered ${n} more message(s)`);
    if (failed > 0) log.error({ consumer, count: failed, err: lastError }, `${failed} dead letter(s) could not be published; left unacked, they come back after ack_wait`);
    reasons = new Map();
    failed = 0;
  }
  return {
    deadLettered(m: JsMsg, reason: string): void {
      if (!timer) {
        // The first of a burst in full (what a human needs to find the cause), then counts.
        log.warn({ consumer, subject: m.subject, seq: m.seq, reason }, "dead-lettered");
        timer = setInterval(flush, burstMs);
        timer.unref();
        return;
      }
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    },
    failed(err: Error): void {
      failed++;
      lastError = err.message;
      if (!timer) {
        timer = setInterval(flush, burstMs);
        timer.unref();
      }
    },
    flush,
    stop(): void {
      flush();
      clearInterval(timer);
      timer = undefined;
    },
  };
}

export function createDeadLetters(o: DeadLetterOptions): DeadLetters {
  const window = Math.max(1, o.window ?? DEAD_LETTER_WINDOW);
  const burst = burstLog(o.log, o.consumer, o.burstMs ?? DEAD_LETTER_BURST_MS);
  const inflight = new Set<Promise<void>>();
  const decoder = new TextDecoder();
  const rate = Math.max(1, o.rate ?? DEAD_LETTER_RATE);
  let tokens = rate;
  let refilledAt = performance.now();
  const held: Array<{ m: JsMsg; reason: string }> = [];
  let summaryTimer: NodeJS.Timeout | undefined;

  /** Whether this dead letter may go out on its own (the token bucket), else it joins the next summary. */
  function takeToken(): boolean {
    const now = performance.now();
    tokens = Math.min(rate, tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens--;
    return true;
  }

  /** One dead letter for the held messages, then each terminated; a failed publish leaves them all unacked. */
  async function publishSummary(): Promise<void> {
    clearTimeout(summaryTimer);
    summaryTimer = undefined;
    const batch = held.splice(0);
    if (batch.length === 0) return;
    const counts = new Map<string, number>();
    for (const h of batch) counts.set(h.reason, (counts.get(h.reason) ?? 0) + 1);
    const reasons = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r, n]) => `${n} × ${r.slice(0, 200)}`).join("; ");
    const first = batch[0]!.m;
    const last = batch[batch.length - 1]!.m;
    const reason = `flood over ${rate} dead letters/s: ${batch.length} messages refused together, #${first.seq}–#${last.seq} (${reasons}); each stays in stream ${o.stream} by its sequence until it ages out; payload: the first's`;
    try {
      // Every refused message by its sequence, so an auditor can account for each one.
      await publish(first, reason, batch.map((h) => h.m.seq));
    } catch (err) {
      burst.failed(err as Error);
      return;
    }
    for (const h of batch) {
      o.onDeadLettered?.();
      burst.deadLettered(h.m, h.reason);
      h.m.term();
    }
  }

  const publish = (m: JsMsg, reason: string, streamSeqs?: number[]) =>
    o.publisher.emit("sys.deadletter", {
      consumer: o.consumer,
      reason,
      subject: m.subject,
      stream: o.stream,
      streamSeq: m.seq,
      ...(streamSeqs ? { streamSeqs } : {}),
      payload: decoder.decode(m.data.subarray(0, MAX_DL_PAYLOAD)),
    });

  async function sendNow(m: JsMsg, reason: string): Promise<void> {
    await publish(m, reason);
    o.onDeadLettered?.();
    o.log.warn({ consumer: o.consumer, subject: m.subject, seq: m.seq, reason }, "dead-lettered");
    m.term();
  }

  async function send(m: JsMsg, reason: string): Promise<void> {
    if (window === 1) return sendNow(m, reason);
    if (!takeToken()) {
      held.push({ m, reason });
      if (held.length >= DEAD_LETTER_SUMMARY_MAX) return publishSummary();
      summaryTimer ??= setTimeout(() => void publishSummary(), o.burstMs ?? DEAD_LETTER_BURST_MS);
      return;
    }
    while (inflight.size >= window) await Promise.race(inflight);
    const p: Promise<void> = publish(m, reason).then(
      () => {
        o.onDeadLettered?.();
        burst.deadLettered(m, reason);
        m.term();
      },
      (err: Error) => burst.failed(err),
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }

  return {
    send,
    sendNow,
    async drain() {
      await Promise.all(inflight);
      await publishSummary();
      burst.stop();
    },
  };
}
