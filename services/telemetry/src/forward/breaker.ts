import CircuitBreaker from "opossum";
import { judgeResponse, type Verdict } from "../policy.js";
import type { Uploader, UploadResponse } from "../upload.js";
import type { Clock } from "./clock.js";
import { Stopped, type StopSignal } from "./stop-signal.js";
import type { BreakerState, ForwardContext, Item } from "./types.js";

/** An upload the cloud (or the way to it) failed: counts against the breaker. */
export class UploadFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface UploadOutcome {
  verdict: Verdict;
  res: UploadResponse;
}

type Breaker = CircuitBreaker<[items: Item[]], UploadOutcome>;

/** One upload behind the opossum circuit breaker, and the breaker's state as telemetry reports it. */
export interface UploadBreaker {
  /** Uploads a batch; rejects with UploadFailure, or with code EOPENBREAKER while the breaker is open. */
  fire(items: Item[]): Promise<UploadOutcome>;
  readonly opened: boolean;
  state(): BreakerState;
  /** Resolves at once while the breaker lets uploads through, else at its half-open probe; Stopped on shutdown. */
  untilAllows(): Promise<void>;
  /**
   * Resolves at the breaker's next transition (closed, open or half-open); Stopped on shutdown. For an
   * upload refused while another one is the half-open probe: trying again at once would spin.
   */
  untilTransition(): Promise<void>;
  shutdown(): void;
}

export interface BreakerDeps extends ForwardContext {
  uploader: Uploader;
  clock: Clock;
  stop: StopSignal;
  /** The backlog to report with a transition (0 when it cannot be read). */
  backlogOrZero(): Promise<number>;
}

export function createUploadBreaker(d: BreakerDeps): UploadBreaker {
  const upload = async (items: Item[]): Promise<UploadOutcome> => {
    const res = await d.uploader.post(
      items.map((i) => i.data),
      items[0]!.seq,
      items.at(-1)!.seq,
    );
    const verdict = judgeResponse(res.status, res.retryAfter, res.body, d.clock.now(), d.cfg.retryBaseMs);
    if (verdict.kind === "failed") throw new UploadFailure(verdict.reason, res.status);
    return { verdict, res };
  };
  const b = d.cfg.breaker;
  const breaker: Breaker = new CircuitBreaker(upload, {
    timeout: false, // the uploader has its own deadline and destroys the socket
    errorThresholdPercentage: b.errorThresholdPercentage,
    volumeThreshold: b.volumeThreshold,
    rollingCountTimeout: b.rollingWindowMs,
    resetTimeout: b.resetTimeoutMs,
    name: "cloud-upload",
  });
  const state = reportTransitions(breaker, d);
  return {
    fire: (items) => breaker.fire(items),
    get opened() {
      return breaker.opened;
    },
    state,
    untilAllows: () => untilHalfOpen(breaker, d.stop),
    untilTransition: () => untilEvent(breaker, ["close", "open", "halfOpen"], d.stop),
    shutdown: () => breaker.shutdown(),
  };
}

/** Logs and emits the breaker's transitions (an outage is one open…close, however many probes fail). */
function reportTransitions(breaker: Breaker, d: BreakerDeps): () => BreakerState {
  const resetTimeoutMs = d.cfg.breaker.resetTimeoutMs;
  let lastError = "";
  let state: BreakerState = "closed";
  let openedAt = 0;
  breaker.on("failure", (err: Error) => {
    lastError = describeError(err);
  });
  breaker.on("open", () => {
    const wasClosed = state === "closed";
    state = "open";
    if (!wasClosed) return; // a failed half-open probe: still the same outage
    openedAt = d.clock.now();
    d.log.warn({ reason: lastError, resetTimeoutMs }, "breaker opened: fetching stops, events wait in the stream");
    void d.backlogOrZero().then((backlog) => d.emit("sys.telemetry.breaker.opened", { reason: lastError || "unknown", backlog, resetTimeoutMs }));
  });
  breaker.on("halfOpen", () => {
    state = "halfOpen";
    d.log.info("breaker half-open: probing the cloud");
  });
  breaker.on("close", () => {
    const openMs = openedAt ? d.clock.now() - openedAt : 0;
    state = "closed";
    d.log.info({ openMs }, "breaker closed: draining the backlog");
    void d.backlogOrZero().then((backlog) => d.emit("sys.telemetry.breaker.closed", { backlog, openMs }));
  });
  return () => state;
}

function untilHalfOpen(breaker: Breaker, stop: StopSignal): Promise<void> {
  if (!breaker.opened) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onHalfOpen = () => {
      forget();
      resolve();
    };
    const forget = stop.onStop(() => {
      breaker.removeListener("halfOpen", onHalfOpen);
      reject(new Stopped());
    });
    breaker.once("halfOpen", onHalfOpen);
  });
}

function untilEvent(breaker: Breaker, events: readonly string[], stop: StopSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onEvent = () => {
      forget();
      resolve();
    };
    const off = () => {
      for (const e of events) breaker.removeListener(e, onEvent);
    };
    const forgetStop = stop.onStop(() => {
      off();
      reject(new Stopped());
    });
    const forget = () => {
      off();
      forgetStop();
    };
    for (const e of events) breaker.once(e, onEvent);
    // The probe may have settled between the refusal and now: then there is nothing to wait for.
    if (!breaker.halfOpen) onEvent();
  });
}

/** An error as one line for logs and events (a refused connection says where it tried). */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ECONNREFUSED") return `connection refused (${e.message.replace(/^connect /, "")})`;
  return e?.message ?? String(err);
}
