import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { NatsConnection } from "@nats-io/transport-node";
import { is, tailEvents } from "@vigil/events";

/**
 * systemd's notify protocol (sd_notify(3)) on `$NOTIFY_SOCKET`, for `vigil up` as a `Type=notify`
 * service with a watchdog (docs/unattended.md, docs/decisions/0011-sd-notify.md).
 *
 * The socket is a unix *datagram* socket and Node has no AF_UNIX SOCK_DGRAM (node:dgram is UDP only,
 * node:net is stream only). So one long-lived helper sends the datagrams: a few lines of Perl using
 * the Socket module of perl-base, which is Essential on Debian and Raspberry Pi OS. It is a child of
 * vigil up, in the same cgroup, which is why the unit says `NotifyAccess=all`; it stays alive, so
 * systemd can always tell whose message it is (a short-lived `systemd-notify` can exit before
 * systemd looks it up, and the message is dropped). One line on the helper's stdin is one datagram;
 * it answers `ok` or `err <reason>` for each.
 */
const HELPER = String.raw`
use Socket;
my $p = shift; $p =~ s/^@/\0/;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
my $addr = sockaddr_un($p);
$| = 1;
while (my $l = <STDIN>) {
  chomp $l;
  $l =~ s/\\(n|\\)/$1 eq "n" ? "\n" : "\\"/ge;
  if (defined send($s, $l, 0, $addr)) { print "ok\n" } else { print "err $!\n" }
}
`;

export interface SdNotifier {
  /** Sends `KEY=value` lines (READY=1, STATUS=…, WATCHDOG=1, STOPPING=1). Never throws, never waits. */
  notify(fields: Record<string, string | number>): void;
  /** The watchdog interval systemd asked for (WATCHDOG_USEC for this pid), or undefined. */
  watchdogMs?: number;
  close(): void;
}

/** A notifier when `NOTIFY_SOCKET` is set (vigil up under systemd, or a test), else undefined. */
export function sdNotifier(env: NodeJS.ProcessEnv, say: (msg: string) => void, perl = "perl"): SdNotifier | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return undefined;
  let reported = false;
  // Reported once: systemd will not hear from vigil (and its watchdog, if set, restarts it), nothing else changes.
  const problem = (why: string) => {
    if (reported) return;
    reported = true;
    say(`sd_notify: cannot notify systemd on NOTIFY_SOCKET=${socket}: ${why}; going on without it`);
  };
  let helper: ChildProcess | undefined = spawn(perl, ["-e", HELPER, socket], { stdio: ["pipe", "pipe", "pipe"] });
  helper.on("error", (err: NodeJS.ErrnoException) => {
    problem(`${perl}: ${err.code ?? err.message} (the datagram helper needs perl, from perl-base)`);
    helper = undefined;
  });
  helper.stdin?.on("error", () => undefined); // the helper died: reported by its exit
  let stderr = "";
  helper.stderr?.on("data", (d) => (stderr += d));
  helper.on("exit", (code) => {
    if (code) problem(`the datagram helper exited with ${code}: ${stderr.trim()}`);
    helper = undefined;
  });
  createInterface({ input: helper.stdout! }).on("line", (line) => {
    if (line.startsWith("err ")) problem(line.slice(4));
  });
  helper.unref();
  (helper.stdout as unknown as { unref?: () => void }).unref?.();
  (helper.stderr as unknown as { unref?: () => void }).unref?.();
  (helper.stdin as unknown as { unref?: () => void }).unref?.();
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  return {
    watchdogMs: Number.isFinite(usec) && usec > 0 && forUs ? usec / 1000 : undefined,
    notify(fields) {
      if (!helper?.stdin?.writable) return;
      const text = Object.entries(fields)
        .map(([k, v]) => `${k}=${String(v).replace(/\n/g, " ")}`)
        .join("\n");
      helper.stdin.write(`${text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`);
    },
    close() {
      helper?.stdin?.end();
    },
  };
}

export interface WatchdogChecks {
  /** The bus answers (a round trip within the timeout). */
  busAnswers(): Promise<boolean>;
  /** The names of services that are not running right now (dead, or waiting to be restarted). */
  deadServices(): string[];
  /** A one-line summary for STATUS=. */
  summary(): string;
}

/**
 * Pings `WATCHDOG=1` every third of the watchdog interval, but only while vigil up's own checks
 * pass: the bus answers and every service is alive. When they fail, systemd stops hearing from it
 * and restarts the unit after WatchdogSec. STATUS= says what is wrong either way.
 */
export function startWatchdog(n: SdNotifier, checks: WatchdogChecks, say: (msg: string) => void): { stop(): void } {
  const every = n.watchdogMs ? Math.max(100, n.watchdogMs / 3) : 10_000;
  let failingSince: number | undefined;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const bus = await checks.busAnswers().catch(() => false);
      const dead = checks.deadServices();
      const ok = bus && dead.length === 0;
      const why = [...(bus ? [] : ["the bus does not answer"]), ...(dead.length ? [`not running: ${dead.join(", ")}`] : [])].join("; ");
      if (ok) {
        if (failingSince !== undefined) say(`watchdog: checks pass again after ${Math.round((Date.now() - failingSince) / 1000)} s`);
        failingSince = undefined;
        n.notify({ ...(n.watchdogMs ? { WATCHDOG: 1 } : {}), STATUS: checks.summary() });
      } else {
        if (failingSince === undefined) say(`watchdog: ${why}; no WATCHDOG=1 until it passes again`);
        failingSince ??= Date.now();
        n.notify({ STATUS: `unhealthy: ${why}` });
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), every);
  void tick();
  return { stop: () => clearInterval(timer) };
}

export interface SystemdHookOptions {
  nc: NatsConnection;
  stream: string;
  device: string;
  /** Services vigil up runs, and whether each is alive right now. */
  services: () => Array<{ name: string; alive: boolean }>;
  /** Declared workers and containers: READY=1 waits for each to have started (or failed to). */
  workers: string[];
  /** When the services were launched: their start events are read from the stream from here. */
  since: Date;
  say: (msg: string) => void;
  /** READY=1 at the latest after this long, with a STATUS naming what has not started (default 90 s). */
  readyTimeoutMs?: number;
}

/**
 * vigil up's side of `Type=notify`: READY=1 once every service announced its start and every worker
 * was started (or failed to start: the decider handles that, systemd restarting Vigil would not),
 * then the watchdog. Undefined without NOTIFY_SOCKET. Only vigil up talks to systemd: the services'
 * environment loses NOTIFY_SOCKET (up.ts), so none of them can claim to be it.
 */
export async function startSystemdNotify(env: NodeJS.ProcessEnv, o: SystemdHookOptions): Promise<{ stopping(): void; close(): Promise<void> } | undefined> {
  const n = sdNotifier(env, o.say);
  if (!n) return undefined;
  const services = new Set(o.services().map((s) => s.name));
  const workers = new Set(o.workers);
  let watchdog: { stop(): void } | undefined;
  let readyTimer: NodeJS.Timeout | undefined;
  let readySent = false;
  const summary = () => {
    const s = o.services();
    return `${s.filter((x) => x.alive).length}/${s.length} services running, ${o.workers.length} workers declared; device ${o.device}`;
  };
  const ready = (late?: string) => {
    if (readySent) return;
    readySent = true;
    clearTimeout(readyTimer);
    n.notify({ READY: 1, STATUS: late ? `started, but not yet: ${late}` : summary(), MAINPID: process.pid });
    o.say(`sd_notify: READY=1${late ? ` (not yet started: ${late})` : ""}${n.watchdogMs ? `; watchdog every ${Math.round(n.watchdogMs / 3)} ms of ${Math.round(n.watchdogMs)} ms` : ""}`);
    watchdog = startWatchdog(n, { busAnswers: () => busAnswers(o.nc), deadServices: () => o.services().filter((s) => !s.alive).map((s) => s.name), summary }, o.say);
  };
  n.notify({ STATUS: "starting services and workers" });
  const tail = await tailEvents(o.nc, { stream: o.stream, filter: `vigil.${o.device}.>`, from: { time: o.since } }, (e) => {
    if (is(e, "sys.service.started")) services.delete(e.data.service);
    else if (is(e, "obs.worker.started") || is(e, "obs.worker.exited")) workers.delete(e.data.worker);
    if (!services.size && !workers.size) ready();
  });
  if (!services.size && !workers.size) ready();
  readyTimer = setTimeout(() => ready([...services, ...workers].join(", ")), o.readyTimeoutMs ?? 90_000);
  return {
    stopping() {
      watchdog?.stop();
      n.notify({ STOPPING: 1, STATUS: "stopping" });
    },
    async close() {
      clearTimeout(readyTimer);
      watchdog?.stop();
      await tail.stop().catch(() => undefined);
      n.close();
    },
  };
}

/** The bus answers: a round trip to the server within 2 s. */
async function busAnswers(nc: NatsConnection): Promise<boolean> {
  if (nc.isClosed()) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2_000)));
  try {
    return await Promise.race([nc.rtt().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
