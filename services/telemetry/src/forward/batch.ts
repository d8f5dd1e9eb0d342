import type { JsMsg } from "@nats-io/jetstream";
import { chunkBySize, lostBetween, shouldForward, subjectSuffix } from "../policy.js";
import type { Deliver } from "./delivery.js";
import type { ForwardContext, Item } from "./types.js";

export interface BatchDeps extends ForwardContext {
  deliver: Deliver;
  /** The stream's first sequence now (retried until NATS answers). */
  streamFirstSeq(): Promise<number>;
}

/**
 * One fetched batch in three steps, so several batches can be uploaded at once while acks stay in
 * stream order: `select` (in fetch order: reports gaps, downsamples), `upload` (size-bounded chunks,
 * each until the cloud confirmed or dead-lettered it; may run beside other batches' uploads), `ack`
 * (cumulative; called only once every earlier batch is done).
 */
export interface BatchProcessor {
  select(msgs: JsMsg[]): Promise<Item[]>;
  upload(items: Item[]): Promise<void>;
  ack(msgs: JsMsg[]): void;
}

/** A batch's highest message and its sequence, found while selecting it (so acking it reads no reply subject again). */
interface Top {
  msg: JsMsg;
  seq: number;
}

export function createBatchProcessor(d: BatchDeps): BatchProcessor {
  const sampleCounters = new Map<string, number>();
  const tops = new WeakMap<JsMsg[], Top>();
  // With no rule at all (`downsample: {}`; the default has one) the subject is not even decoded: the client decodes it on first use.
  const sampling = Object.keys(d.cfg.downsample).length > 0;
  /** Whether a downsampling rule lets this message through (counted per subject suffix). */
  const sampled = (subject: string): boolean => {
    const suffix = subjectSuffix(subject);
    if (d.cfg.downsample[suffix] === undefined) return true; // no rule: nothing to count
    const seen = sampleCounters.get(suffix) ?? 0;
    sampleCounters.set(suffix, seen + 1);
    return shouldForward(suffix, d.cfg.downsample, seen);
  };
  return {
    async select(msgs) {
      const { items, top } = await selectItems(d, msgs, sampling ? sampled : undefined);
      if (top) tops.set(msgs, top);
      return items;
    },
    async upload(items) {
      for (const [a, b] of chunkBySize(
        items.map((i) => i.data.length),
        d.cfg.batchMaxBytes,
      )) {
        await d.deliver(items.slice(a, b));
      }
    },
    ack: (msgs) => ackThrough(d, tops.get(msgs) ?? highest(msgs)),
  };
}

/** An item whose subject the client decodes only if something asks for it (a dead letter, a failure report). */
class MsgItem implements Item {
  constructor(
    readonly seq: number,
    readonly data: Uint8Array,
    private readonly msg: JsMsg,
  ) {}
  get subject(): string {
    return this.msg.subject;
  }
}

/**
 * The batch's items to upload, noting lost sequences and skipped (downsampled) events on the way,
 * and its highest message (each message's sequence is read once: the reply subject's decode and
 * parse were ~5 % of telemetry's CPU when the ack read them all again).
 */
async function selectItems(d: BatchDeps, msgs: JsMsg[], sampled?: (subject: string) => boolean): Promise<{ items: Item[]; top?: Top }> {
  const items: Item[] = [];
  let firstSeqNow: number | undefined;
  let top = -1;
  let topSeq = -1;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    const seq = streamSeq(m);
    if (seq > topSeq) {
      top = i;
      topSeq = seq;
    }
    if (seq > d.stats.lastSeq + 1) {
      firstSeqNow ??= await d.streamFirstSeq();
      reportGap(d, seq, firstSeqNow);
    }
    if (seq > d.stats.lastSeq) d.stats.lastSeq = seq;
    if (sampled && !sampled(m.subject)) {
      d.stats.skipped++;
      continue;
    }
    items.push(new MsgItem(seq, m.data, m));
  }
  return { items, ...(top >= 0 ? { top: { msg: msgs[top]!, seq: topSeq } } : {}) };
}

/**
 * The message's stream sequence, read from its reply subject without the client's full parse (which
 * splits it into an object of nine fields: ~3 % of the drain's CPU in the profile). The subject is
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>.…` (9 tokens), or with a domain and account
 * hash after `ACK` (11 or more); anything else goes through the client's parser.
 */
export function streamSeq(m: { readonly seq: number; readonly reply?: string }): number {
  const r = m.reply; // on the client's message class, not on the JsMsg interface
  if (typeof r !== "string") return m.seq;
  const dots: number[] = [];
  for (let i = r.indexOf("."); i >= 0 && dots.length < 12; i = r.indexOf(".", i + 1)) dots.push(i);
  const tokens = dots.length + 1;
  const at = tokens === 9 ? 5 : tokens >= 11 ? 7 : -1;
  if (at < 0 || !r.startsWith("$JS.ACK.")) return m.seq;
  const n = Number(r.slice(dots[at - 1]! + 1, dots[at]));
  return Number.isSafeInteger(n) && n > 0 ? n : m.seq;
}

/**
 * How many messages the consumer still had to deliver after this one, read like streamSeq from the
 * ack subject (its last numeric token: `…<streamSeq>.<consumerSeq>.<timestamp>.<pending>`, a random
 * token after it in the 11-or-more form); any other subject goes through the client's parser.
 */
export function pendingAfter(m: { readonly info: { readonly pending: number }; readonly reply?: string }): number {
  const r = m.reply;
  if (typeof r === "string" && r.startsWith("$JS.ACK.")) {
    const t = r.split(".");
    const at = t.length === 9 ? 8 : t.length >= 11 ? 10 : -1;
    const n = at < 0 ? NaN : Number(t[at]);
    if (Number.isSafeInteger(n) && n >= 0) return n;
  }
  return m.info.pending;
}

/** A jump in delivered stream sequences over sequences the stream no longer has: those were lost. */
function reportGap(d: BatchDeps, seq: number, streamFirstSeq: number): void {
  const gap = lostBetween(d.stats.lastSeq, seq, streamFirstSeq);
  if (!gap) return;
  d.stats.lost += gap.count;
  const reason = `the stream discarded ${gap.count} event(s) (seq ${gap.fromSeq}..${gap.toSeq}) before they were forwarded: its limits (stream.maxBytes / maxAgeSeconds) are smaller than the outage`;
  d.log.error(gap, reason);
  void d.emit("sys.telemetry.lost", { ...gap, reason });
}

/** The highest message of a batch not selected here (fallback; select notes it as it goes). */
function highest(msgs: JsMsg[]): Top {
  // Delivered in stream order: the last is the highest (checked, in case a redelivery mixed them).
  let top: Top = { msg: msgs[msgs.length - 1]!, seq: streamSeq(msgs[msgs.length - 1]!) };
  for (const m of msgs) {
    const seq = streamSeq(m);
    if (seq > top.seq) top = { msg: m, seq };
  }
  return top;
}

/**
 * Cumulative ack: everything up to the batch's highest sequence is confirmed or dead-lettered.
 * (A lost ack only means NATS hands the batch out again after ack_wait: sent twice, stored once.)
 */
function ackThrough(d: BatchDeps, { msg: top, seq }: Top): void {
  try {
    top.ack();
  } catch (err) {
    d.log.warn({ err: (err as Error).message, seq }, "ack failed; the batch will be sent again");
  }
  if (seq > d.stats.ackedSeq) d.stats.ackedSeq = seq;
}
