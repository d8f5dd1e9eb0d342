import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import CircuitBreaker from "opossum";
import { isNotFound, type DataInput, type EventName, type Logger, type TelemetryConfig } from "@vigil/events";
import { backoffMs, bisect, chunkBySize, judgeResponse, lostBetween, shouldForward, subjectSuffix, type Verdict } from "./policy.js";
import type { Uploader, UploadResponse } from "./upload.js";

const NS_PER_MS = 1_000_000;
const MAX_DL_PAYLOAD = 64 * 1024;

export interface ForwarderOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  device: string;
  config: TelemetryConfig;
  uploader: Uploader;
  log: Logger;
  /** Publishes one of telemetry's own events (breaker, loss, failures, dead letters). */
  emit: <N extends EventName>(name: N, data: DataInput<N>) => Promise<unknown>;
}

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

export interface Forwarder {
  stats(): ForwarderStats;
  breaker(): BreakerState;
  /** Events in the stream not yet confirmed by the cloud (consumer num_pending + num_ack_pending). */
  backlog(): Promise<number>;
  /** Lets the upload in flight finish (and be acked), then stops; nothing unconfirmed is acked. */
  stop(): Promise<void>;
}

interface Item {
  seq: number;
  subject: string;
  data: Uint8Array;
}

class Stopped extends Error {}

class UploadFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Durable pull consumer → cloud. The consumer acks cumulatively (AckPolicy.All): one ack after a
 * batch's 2xx covers the batch, and a restart recreates the consumer just after its ack floor, so
 * what was in flight at a crash is sent again at once (the sink de-duplicates by id) instead of
 * after ack_wait. One batch is uploaded at a time (in stream order) while the next is fetched.
 */
export async function startForwarder(o: ForwarderOptions): Promise<Forwarder> {
  const { js, jsm, stream, config: cfg, log } = o;
  const durable = cfg.durable;
  const filter = cfg.filter ?? `vigil.${o.device}.>`;

  // ── consumer: resume right after what the cloud confirmed ──
  let ackFloor: number | undefined;
  try {
    const info = await jsm.consumers.info(stream, durable);
    ackFloor = info.ack_floor.stream_seq;
    await jsm.consumers.delete(stream, durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  // A brand-new consumer starts at what the stream holds now (what predates telemetry is not "lost").
  const start = ackFloor !== undefined ? ackFloor + 1 : Math.max(1, (await jsm.streams.info(stream)).state.first_seq);
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, start),
    filter_subject: filter,
    ack_wait: cfg.ackWaitSeconds * 1000 * NS_PER_MS,
    max_deliver: -1,
    max_ack_pending: cfg.batchMaxEvents * 4,
  });
  const consumer = await js.consumers.get(stream, durable);
  log.info({ filter, durable, resumeAt: start, url: cfg.url }, "forwarding");

  const stats: ForwarderStats = { forwarded: 0, resent: 0, skipped: 0, deadLettered: 0, lost: 0, batches: 0, failures: 0, sentBytes: 0, lastSeq: start - 1, ackedSeq: start - 1 };
  const sampleCounters = new Map<string, number>();
  let stopping = false;
  const wakers = new Set<() => void>();
  const held = new Set<JsMsg[]>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (stopping) return reject(new Stopped());
      const wake = () => {
        clearTimeout(t);
        wakers.delete(wake);
        reject(new Stopped());
      };
      const t = setTimeout(() => {
        wakers.delete(wake);
        resolve();
      }, ms);
      wakers.add(wake);
    });

  async function backlog(): Promise<number> {
    const ci = await jsm.consumers.info(stream, durable);
    return ci.num_pending + ci.num_ack_pending;
  }
  const backlogOrZero = () => backlog().catch(() => 0);

  // ── the breaker around one upload ──
  let lastError = "";
  let state: BreakerState = "closed";
  let openedAt = 0;
  const upload = async (items: Item[]): Promise<{ verdict: Verdict; res: UploadResponse }> => {
    const res = await o.uploader.post(
      items.map((i) => i.data),
      items[0]!.seq,
      items.at(-1)!.seq,
    );
    const verdict = judgeResponse(res.status, res.retryAfter, res.body, Date.now(), cfg.retryBaseMs);
    if (verdict.kind === "failed") throw new UploadFailure(verdict.reason, res.status);
    return { verdict, res };
  };
  const breaker = new CircuitBreaker(upload, {
    timeout: false, // the uploader has its own deadline and destroys the socket
    errorThresholdPercentage: cfg.breaker.errorThresholdPercentage,
    volumeThreshold: cfg.breaker.volumeThreshold,
    rollingCountTimeout: cfg.breaker.rollingWindowMs,
    resetTimeout: cfg.breaker.resetTimeoutMs,
    name: "cloud-upload",
  });
  breaker.on("failure", (err: Error) => {
    lastError = describe(err);
  });
  breaker.on("open", () => {
    const wasClosed = state === "closed";
    state = "open";
    if (!wasClosed) return; // a failed half-open probe: still the same outage
    openedAt = Date.now();
    log.warn({ reason: lastError, resetTimeoutMs: cfg.breaker.resetTimeoutMs }, "breaker opened: fetching stops, events wait in the stream");
    void backlogOrZero().then((b) => o.emit("sys.telemetry.breaker.opened", { reason: lastError || "unknown", backlog: b, resetTimeoutMs: cfg.breaker.resetTimeoutMs }));
  });
  breaker.on("halfOpen", () => {
    state = "halfOpen";
    log.info("breaker half-open: probing the cloud");
  });
  breaker.on("close", () => {
    const openMs = openedAt ? Date.now() - openedAt : 0;
    state = "closed";
    log.info({ openMs }, "breaker closed: draining the backlog");
    void backlogOrZero().then((b) => o.emit("sys.telemetry.breaker.closed", { backlog: b, openMs }));
  });

  function untilBreakerAllows(): Promise<void> {
    if (!breaker.opened) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onHalfOpen = () => {
        wakers.delete(wake);
        resolve();
      };
      const wake = () => {
        breaker.removeListener("halfOpen", onHalfOpen);
        reject(new Stopped());
      };
      breaker.once("halfOpen", onHalfOpen);
      wakers.add(wake);
    });
  }

  // ── failure reports: the first of a streak, a new reason, or every 30 s ──
  let reported = { reason: "", at: 0 };
  function reportFailure(err: unknown, items: Item[], retryInMs: number): void {
    const reason = describe(err);
    const now = Date.now();
    if (reason === reported.reason && now - reported.at < 30_000) return;
    reported = { reason, at: now };
    const status = err instanceof UploadFailure ? err.status : undefined;
    log.warn({ err: reason, status, events: items.length, retryInMs }, "upload failed; nothing acked, will retry");
    void o.emit("sys.telemetry.upload.failed", {
      ...(status !== undefined ? { status } : {}),
      error: reason,
      events: items.length,
      firstSeq: items[0]!.seq,
      lastSeq: items.at(-1)!.seq,
      retryInMs: Math.round(retryInMs),
    });
  }

  async function deadLetter(item: Item, reason: string): Promise<void> {
    stats.deadLettered++;
    log.warn({ seq: item.seq, subject: item.subject, reason }, "the cloud refused an event: dead-lettered");
    await o.emit("sys.deadletter", {
      consumer: durable,
      reason: `the cloud refused it: ${reason}`,
      subject: item.subject,
      stream,
      streamSeq: item.seq,
      payload: new TextDecoder().decode(item.data.subarray(0, MAX_DL_PAYLOAD)),
    });
  }

  /** Resolves when every item was confirmed by the cloud or dead-lettered; throws Stopped on shutdown. */
  async function deliver(items: Item[]): Promise<void> {
    let attempt = 0;
    for (;;) {
      if (stopping) throw new Stopped();
      await untilBreakerAllows();
      let outcome: { verdict: Verdict; res: UploadResponse };
      try {
        outcome = await breaker.fire(items);
      } catch (err) {
        if (stopping) throw new Stopped();
        if ((err as { code?: string }).code === "EOPENBREAKER") continue; // wait for the half-open probe
        stats.failures++;
        const wait = breaker.opened ? cfg.breaker.resetTimeoutMs : backoffMs(attempt++, cfg.retryBaseMs, cfg.retryCapMs, Math.random());
        reportFailure(err, items, wait);
        if (!breaker.opened) await sleep(wait);
        continue;
      }
      const { verdict, res } = outcome;
      if (verdict.kind === "delivered") {
        stats.batches++;
        stats.forwarded += items.length;
        stats.sentBytes += res.sentBytes;
        stats.resent += duplicatesIn(res.body);
        reported = { reason: "", at: 0 };
        return;
      }
      if (verdict.kind === "throttled") {
        log.info({ waitMs: verdict.waitMs }, "the cloud asked us to slow down (429)");
        await sleep(verdict.waitMs);
        continue;
      }
      if (verdict.kind === "blamed") {
        if (items.length === 1) return deadLetter(items[0]!, verdict.reason);
        const [left, right] = bisect(items);
        await deliver(left);
        await deliver(right);
        return;
      }
    }
  }

  // ── gap detection: a jump in delivered stream sequences over sequences the stream no longer has ──
  async function processBatch(msgs: JsMsg[]): Promise<void> {
    const items: Item[] = [];
    let firstSeqNow: number | undefined;
    let top = msgs[0]!;
    for (const m of msgs) {
      if (m.seq > top.seq) top = m;
      if (m.seq > stats.lastSeq + 1) {
        firstSeqNow ??= await streamFirstSeq();
        const gap = lostBetween(stats.lastSeq, m.seq, firstSeqNow);
        if (gap) {
          stats.lost += gap.count;
          const reason = `the stream discarded ${gap.count} event(s) (seq ${gap.fromSeq}..${gap.toSeq}) before they were forwarded: its limits (stream.maxBytes / maxAgeSeconds) are smaller than the outage`;
          log.error(gap, reason);
          void o.emit("sys.telemetry.lost", { ...gap, reason });
        }
      }
      if (m.seq > stats.lastSeq) stats.lastSeq = m.seq;
      const suffix = subjectSuffix(m.subject);
      const seen = sampleCounters.get(suffix) ?? 0;
      sampleCounters.set(suffix, seen + 1);
      if (!shouldForward(suffix, cfg.downsample, seen)) {
        stats.skipped++;
        continue;
      }
      items.push({ seq: m.seq, subject: m.subject, data: m.data });
    }
    for (const [a, b] of chunkBySize(
      items.map((i) => i.data.length),
      cfg.batchMaxBytes,
    )) {
      await deliver(items.slice(a, b));
    }
    // Cumulative ack: everything up to the batch's highest sequence is confirmed or dead-lettered.
    // (A lost ack only means NATS hands the batch out again after ack_wait: sent twice, stored once.)
    try {
      top.ack();
    } catch (err) {
      log.warn({ err: (err as Error).message, seq: top.seq }, "ack failed; the batch will be sent again");
    }
    if (top.seq > stats.ackedSeq) stats.ackedSeq = top.seq;
  }

  /** The stream's first sequence now; retried until NATS answers (or shutdown). */
  async function streamFirstSeq(): Promise<number> {
    for (;;) {
      try {
        return (await jsm.streams.info(stream)).state.first_seq;
      } catch (err) {
        log.warn({ err: (err as Error).message }, "cannot read the stream's state; retrying");
        await sleep(1_000);
      }
    }
  }

  async function fetchBatch(): Promise<JsMsg[]> {
    const msgs: JsMsg[] = [];
    try {
      const iter = await consumer.fetch({ max_messages: cfg.batchMaxEvents, expires: cfg.batchMaxWaitMs });
      for await (const m of iter) msgs.push(m);
    } catch (err) {
      if (msgs.length === 0 && !stopping) {
        log.debug({ err: (err as Error).message }, "fetch interrupted");
        await sleep(500).catch(() => undefined);
      }
    }
    if (msgs.length > 0) held.add(msgs);
    return msgs;
  }

  // Held messages (the batch being uploaded and the one fetched ahead) must not pass ack_wait while
  // an outage lasts, or NATS would hand them out again.
  const keepAlive = setInterval(() => {
    for (const batch of held) for (const m of batch) m.working();
  }, Math.max(1_000, (cfg.ackWaitSeconds * 1000) / 3));
  keepAlive.unref();

  const loop = (async () => {
    let next: Promise<JsMsg[]> | undefined;
    while (!stopping) {
      const msgs = await (next ?? fetchBatch());
      next = undefined;
      if (stopping) break;
      if (msgs.length === 0) continue;
      next = fetchBatch(); // fetch ahead while this batch is uploaded
      // Never move past a batch that is not done: the next cumulative ack would confirm it too.
      let done = false;
      while (!done && !stopping) {
        try {
          await processBatch(msgs);
          done = true;
        } catch (err) {
          if (err instanceof Stopped) break;
          log.error({ err: (err as Error).message }, "batch processing failed; retrying the same batch");
          await sleep(1_000).catch(() => undefined);
        }
      }
      held.delete(msgs);
      if (!done) break;
    }
    await next?.catch(() => undefined);
  })();

  return {
    stats: () => ({ ...stats }),
    breaker: () => state,
    backlog,
    async stop() {
      stopping = true;
      for (const w of [...wakers]) w();
      await loop;
      clearInterval(keepAlive);
      breaker.shutdown();
    },
  };
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ECONNREFUSED") return `connection refused (${e.message.replace(/^connect /, "")})`;
  return e?.message ?? String(err);
}

function duplicatesIn(body: string): number {
  try {
    const d = (JSON.parse(body) as { duplicates?: unknown }).duplicates;
    return typeof d === "number" && d > 0 ? d : 0;
  } catch {
    return 0;
  }
}
