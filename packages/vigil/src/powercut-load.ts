#!/usr/bin/env node
// The power-cut test's own publisher (powercut.e2e.test.ts, bench/src/powercut.bench.ts), a process of
// its own so that the cut can SIGSTOP and kill -9 it like every other writer. It publishes
// `obs.demo.reading` through Vigil's publisher, its outbox on the cut file system, and prints
// `ACK <id>` for every event whose JetStream ack it saw: the ids a cut must not take.
//   node powercut-load.js <json: { url, user, pass, device, outboxDir, rate, hold, flushOnly }>
import { connectBus, createPublisher } from "@vigil/events";

interface LoadOptions {
  url: string;
  user?: string;
  pass?: string;
  device: string;
  outboxDir: string;
  /** Events per second. */
  rate: number;
  /** Keep events in the outbox until the barrier covers them (Vigil's services do under vigil up). */
  hold: boolean;
  /** Only re-publish what the outbox kept from before the cut, wait until the barrier covers it, exit. */
  flushOnly?: boolean;
}

const o = JSON.parse(process.argv[2] ?? "{}") as LoadOptions;
const nc = await connectBus({ url: o.url, user: o.user, pass: o.pass }, "powercut-load", { waitOnFirstConnect: true });
const pub = await createPublisher(nc, { device: o.device, source: `vigil/${o.device}/powercut-load`, outboxDir: o.outboxDir, holdUntilDurable: o.hold });
const out = (line: string) => process.stdout.write(`${line}\n`);

if (o.flushOnly) {
  await pub.flush();
  const end = Date.now() + 30_000;
  while ((pub.pending() > 0 || pub.held() > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  out(`FLUSHED pending=${pub.pending()} held=${pub.held()}`);
  await pub.close();
  await nc.close();
  process.exit(0);
}

// Paced against the clock in ticks of 10 ms; publishes of a tick run together (as a busy service's would).
let n = 0;
const perTick = Math.max(1, Math.round(o.rate / 100));
const started = Date.now();
out("READY");
for (;;) {
  const due = Math.floor(((Date.now() - started) / 1000) * o.rate);
  const batch: Promise<void>[] = [];
  for (let i = 0; i < perTick && n < due; i++) {
    const seq = n++;
    batch.push(
      pub.emit("obs.demo.reading", { sensor: "powercut", seq, value: seq }).then(
        (r) => {
          if (r.seq !== undefined) out(`ACK ${r.event.id}`);
        },
        () => undefined,
      ),
    );
  }
  await Promise.all(batch);
  await new Promise((r) => setTimeout(r, 10));
}
