/**
 * The full-system recovery bench's background traffic, in its own process so that publishing it
 * does not stall the bench's /proc watch: `obs.demo.reading` on the device's subjects (the decider,
 * telemetry and every other consumer of the device read them), as admin, like the chaos load
 * (chaos-harness.ts), paced against the clock in 10 ms ticks.
 *
 *   node dist/recovery-load.js      (RECOVERY_LOAD_URL, _USER, _PASS, _DEVICE, _RATE in the environment)
 *
 * Tells its parent "ready" over IPC after the first acknowledged publish; on SIGTERM (or the parent
 * gone) waits for its publishes in flight and sends `{ generated, acked, failed, skipped, seconds }`.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent, makeEvent } from "@vigil/events";

const env = process.env;
const url = env.RECOVERY_LOAD_URL;
const device = env.RECOVERY_LOAD_DEVICE;
const rate = Number(env.RECOVERY_LOAD_RATE ?? "1000");
if (!url || !device || !(rate > 0)) {
  process.stderr.write("recovery-load: RECOVERY_LOAD_URL, RECOVERY_LOAD_DEVICE and a positive RECOVERY_LOAD_RATE are required\n");
  process.exit(2);
}

const nc = await connect({ servers: url, name: "bench-recovery-load", noAsyncTraces: true, user: env.RECOVERY_LOAD_USER, pass: env.RECOVERY_LOAD_PASS });
const js = jetstream(nc);
const h = headers();
h.set("Content-Type", CLOUDEVENTS_CONTENT_TYPE);
const stats = { generated: 0, acked: 0, failed: 0, skipped: 0, seconds: 0 };
let inflight = 0;
let ready = false;
const started = Date.now();

const tick = () => {
  const due = Math.floor(((Date.now() - started) / 1000) * rate) - stats.generated - stats.skipped;
  for (let i = 0; i < due; i++) {
    // Bounded: a stalled server must not grow this process without end.
    if (inflight >= 5_000) {
      stats.skipped += due - i;
      break;
    }
    const e = makeEvent(device, `vigil/${device}/bench-load`, "obs.demo.reading", { sensor: "load", seq: stats.generated, value: Math.random() });
    stats.generated++;
    inflight++;
    js.publish(e.subject, encodeEvent(e), { msgID: e.id, headers: h, timeout: 5_000 }).then(
      () => {
        stats.acked++;
        inflight--;
        if (!ready) {
          ready = true;
          process.send?.({ ready: true });
        }
      },
      () => {
        stats.failed++;
        inflight--;
      },
    );
  }
};
const timer = setInterval(tick, 10);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  stats.seconds = (Date.now() - started) / 1000;
  while (inflight > 0) await new Promise((r) => setTimeout(r, 20));
  process.send?.({ stats });
  await nc.close().catch(() => undefined);
  process.disconnect?.();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("disconnect", () => void stop());
