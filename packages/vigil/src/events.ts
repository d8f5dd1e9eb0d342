import { isRoutine, tailEvents } from "@vigil/events";
import { connectToRunning, type TargetOptions } from "./connect.js";
import { UsageError } from "./embedded-nats.js";
import { formatEvent } from "./format.js";

export interface EventsOptions extends TargetOptions {
  since?: string;
  seq?: string;
  filter?: string;
  follow: boolean;
  /** Also heartbeats and health samples (several a minute: hidden by default). */
  all?: boolean;
  json: boolean;
}

/** Parses `--since 10m`, `2h`, `30s`, or an ISO time. */
export function parseSince(s: string, now = Date.now()): Date {
  const m = /^(\d+)(s|m|h|d)$/.exec(s);
  if (m) return new Date(now - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as "s"]);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`--since "${s}": use a duration like 30s, 10m, 2h, 1d, or an ISO time`);
  return new Date(t);
}

/** `vigil events`: the stored events of this device (or a filter), then live ones with --follow; heartbeats and samples with --all. */
export async function events(o: EventsOptions): Promise<number> {
  const seq = o.seq === undefined ? undefined : Number(o.seq);
  const from = seq !== undefined ? { seq } : o.since ? { time: parseSince(o.since) } : "all";
  if (seq !== undefined && !(Number.isInteger(seq) && seq >= 1)) throw new UsageError(`--seq "${o.seq}": a stream sequence is a whole number from 1`);
  const { nc, config } = await connectToRunning(o);
  const filter = o.filter ?? `vigil.${config.device}.>`;
  const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(nc, { checkAPI: false });
  const info = await jsm.streams.info(config.stream.name);
  const last = info.state.last_seq;
  let stopped = false;
  let idle: NodeJS.Timeout | undefined;
  // Without --follow: stop at the stream's last sequence, or once nothing more has come for a moment
  // (the filter may not match the last stored event).
  const armIdle = () => {
    if (o.follow) return;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => !stopped && void tail.stop(), 700);
  };
  const tail = await tailEvents(
    nc,
    { stream: config.stream.name, filter, from, onInvalid: (subject, seq, reason) => process.stdout.write(`#${seq} invalid event on ${subject}: ${reason}\n`) },
    (e) => {
      if (o.all || !isRoutine(e)) process.stdout.write(o.json ? JSON.stringify(e) + "\n" : formatEvent(e) + "\n");
      armIdle();
      if (!o.follow && e.seq >= last && !stopped) {
        stopped = true;
        void tail.stop();
      }
    },
  );
  armIdle();
  const onSig = () => void tail.stop();
  process.once("SIGINT", onSig);
  await tail.done;
  if (idle) clearTimeout(idle);
  await nc.close();
  return 0;
}
