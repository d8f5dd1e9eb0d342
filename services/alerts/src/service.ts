import { AckPolicy, DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { alertSecret, decodeEvent, InvalidEventError, isNotFound, postWebhook, sourceMismatch, eventName, webhookHeaders, type AlertTarget, type ServiceContext, type VigilEvent } from "@vigil/events";
import { alertBody, deliveryIdOf, transitionOf } from "./alert-body.js";
import { TargetStates } from "./targets.js";

const NS_PER_MS = 1_000_000;
/** Alerts handled at once: a target that hangs occupies one slot per probe, the rest keep flowing. */
const CONCURRENCY = 16;
/** A new durable starts this far back, so an incident of the first seconds of a boot is not missed. */
const FIRST_START_LOOKBACK_MS = 10 * 60_000;

type Target = AlertTarget & { secret: string };

/**
 * Alert notifications (docs/unattended.md, "Alerts"): a durable consumer on the incident events
 * (`vigil.<device>.dec.incident.>`), each transition a target wants POSTed to it, signed. At least
 * once: an alert is acked only when every target it is for has answered 2xx; until then it is
 * nak'd with the earliest target's backoff and comes back (max_deliver unlimited). Targets that
 * already got it are not sent it again by this process. A failing target is reported once
 * (`sys.alerts.target.failing`) and once when it recovers.
 */
export async function startAlerts(ctx: ServiceContext, o: { now?: () => number } = {}): Promise<() => Promise<void>> {
  const { config, log, nc, jsm, publisher } = ctx;
  const a = config.alerts;
  // Read here only: no other service reads a secretFile (config.ts, alertSecret).
  const targets: Target[] = a.targets.map((t) => ({ ...t, secret: alertSecret(t, config.configDir) }));
  if (!targets.length) {
    log.info("no alert targets (alerts.targets): idle");
    return async () => undefined;
  }
  const stream = config.stream.name;
  const filter = `vigil.${config.device}.dec.incident.>`;
  try {
    await jsm.consumers.info(stream, a.durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, {
      durable_name: a.durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: filter,
      ack_wait: 60_000 * NS_PER_MS,
      max_deliver: -1,
      max_ack_pending: 1_000,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(Date.now() - FIRST_START_LOOKBACK_MS).toISOString(),
    });
  }
  const consumer = await jetstream(nc).consumers.get(stream, a.durable);
  const states = new TargetStates(a, o.now);
  /** Per alert (event id), the targets that have it: not sent again on a redelivery to this process. */
  const delivered = new Map<string, Set<string>>();
  const pending = new Map<string, number>();

  const report = (t: Target, r: { ok: boolean; status?: number; error?: string }) => {
    const change = r.ok ? states.succeeded(t.name) : states.failed(t.name);
    if (change?.kind === "failing") {
      log.warn({ target: t.name, url: t.url, err: r.error }, "alert target failing: its alerts are retried with backoff; the others keep flowing");
      void publisher.emit("sys.alerts.target.failing", { target: t.name, error: r.error ?? "failed", ...(r.status ? { status: r.status } : {}), pending: pending.get(t.name) ?? 0 }).catch(() => undefined);
    } else if (change?.kind === "recovered") {
      log.info({ target: t.name, failingMs: change.failingMs }, "alert target accepts deliveries again");
      void publisher.emit("sys.alerts.target.recovered", { target: t.name, failingMs: change.failingMs, failedAttempts: change.attempts }).catch(() => undefined);
    }
  };

  /** true when the target has it now; false with the wait before the next try. */
  async function deliver(t: Target, e: VigilEvent, body: string, m: JsMsg): Promise<number | true> {
    const wait = states.waitMs(t.name);
    if (wait > 0) return wait;
    m.working();
    const r = await postWebhook(t.url, body, webhookHeaders(t.secret, body, deliveryIdOf(e.id, t.name)), t.timeoutMs);
    report(t, r);
    if (!r.ok) return Math.max(1, states.waitMs(t.name));
    delivered.get(e.id)?.add(t.name);
    return true;
  }

  async function handle(m: JsMsg): Promise<void> {
    let e: VigilEvent;
    try {
      e = decodeEvent(m.subject, m.data);
      const forged = sourceMismatch(e, eventName(e)!);
      if (forged) throw new InvalidEventError(forged);
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      await publisher.emit("sys.deadletter", { consumer: a.durable, reason: err.message, subject: m.subject, stream, streamSeq: m.seq, payload: new TextDecoder().decode(m.data.subarray(0, 65_536)) });
      return void m.term();
    }
    const transition = transitionOf(e);
    const due = transition ? targets.filter((t) => t.on.includes(transition)) : [];
    if (!delivered.has(e.id)) delivered.set(e.id, new Set());
    const todo = due.filter((t) => !delivered.get(e.id)!.has(t.name));
    for (const t of todo) pending.set(t.name, (pending.get(t.name) ?? 0) + 1);
    const body = transition ? alertBody(e, transition) : "";
    const results = await Promise.all(todo.map((t) => deliver(t, e, body, m).finally(() => pending.set(t.name, (pending.get(t.name) ?? 1) - 1))));
    const waits = results.filter((r): r is number => r !== true);
    if (!waits.length) {
      delivered.delete(e.id);
      return void m.ack();
    }
    m.nak(Math.min(...waits));
  }

  let stopping = false;
  let messages: ConsumerMessages | undefined;
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopping) {
      try {
        messages = await consumer.consume({ max_messages: 2 * CONCURRENCY });
        for await (const m of messages) {
          const p = handle(m)
            .catch((err) => log.error({ err: (err as Error).message, seq: m.seq }, "could not handle an alert: it comes back after ack_wait"))
            .finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= CONCURRENCY) await Promise.race(inflight);
          if (stopping) break;
        }
      } catch (err) {
        if (stopping) break;
        log.warn({ err: (err as Error).message }, "alerts consumer interrupted, resuming");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();
  log.info({ targets: targets.map((t) => ({ name: t.name, on: t.on })) }, "alerts: delivering incident transitions");
  return async () => {
    stopping = true;
    messages?.stop();
    await loop;
    await Promise.allSettled([...inflight]);
  };
}
