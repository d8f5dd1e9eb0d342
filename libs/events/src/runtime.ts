import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigError, loadConfig, type VigilConfig } from "./config.js";
import { connectBus } from "./connect.js";
import { heapCompactionMsFromEnv, startHeapCompaction } from "./heap-compaction.js";
import { createLogger, type Logger } from "./logger.js";
import { createPublisher, type Publisher } from "./publisher.js";
import { ensureStream, waitForStream } from "./stream.js";

export const VERSION = "0.1.0";

export interface ServiceContext {
  service: string;
  config: VigilConfig;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  /**
   * This service's publisher: its lifecycle events, the decider's decisions, dead letters, the
   * gateway's commands. Under vigil up's durability barrier it has an outbox and holds every event
   * until a barrier covers it (contextOutboxDir), as the supervisor's does; otherwise it has none.
   */
  publisher: Publisher;
}

/**
 * Under `vigil up` (VIGIL_DURABILITY=barrier) the context publisher gets an outbox of its own, so a
 * power cut loses none of the decisions and lifecycle events its service saw acknowledged: they are
 * re-published at the next start (the duplicate window drops those the stream kept; issue 18,
 * docs/durability.md). A folder apart from any outbox the service opens itself (level locks it).
 * Without the barrier (compose, tests on a plain server) there is none: publish() throws when the
 * bus is unreachable, as before.
 */
export function contextOutboxDir(service: string, config: Pick<VigilConfig, "dataDir">, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.VIGIL_DURABILITY === "barrier" ? join(config.dataDir, service, "context-outbox") : undefined;
}

/** A service is a function that starts it and returns how to stop it. */
export type StartService = (ctx: ServiceContext) => Promise<() => Promise<void>>;

/**
 * Connects, makes sure the stream exists, starts the service, announces it on `sys.service.started`,
 * and on SIGTERM/SIGINT stops it, announces `sys.service.stopped`, drains the connection and exits 0.
 * A bad config exits 2 with the message naming the field.
 */
export async function startService(service: string, config: VigilConfig, start: StartService, log: Logger = createLogger(service, config.log.level), signal?: AbortSignal): Promise<{ ctx: ServiceContext; stop: (reason?: string) => Promise<void> }> {
  const nc = await connectBus(config.nats, `vigil-${service}`);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  // A user without the right to manage streams waits for it (stream.setup: wait); one whose
  // create/update is refused all the same falls back to waiting.
  const managed = config.stream.setup === "manage" && (await ensureStream(jsm, config.stream));
  if (!managed) {
    try {
      await waitForStream(jsm, config.stream.name, { log, signal });
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }
  const publisher = await createPublisher(nc, { device: config.device, source: `vigil/${config.device}/${service}`, outboxDir: contextOutboxDir(service, config), log });
  const ctx: ServiceContext = { service, config, nc, js: jetstream(nc), jsm, log, publisher };
  const stopService = await start(ctx);
  await publisher.emit("sys.service.started", { service, pid: process.pid, version: VERSION }).catch((err) => log.warn({ err: err.message }, "could not announce start"));
  log.info({ device: config.device, nats: config.nats.url }, `${service} started`);
  let stopping: Promise<void> | undefined;
  const stop = (reason = "stopped") => {
    stopping ??= (async () => {
      log.info({ reason }, `${service} stopping`);
      await stopService();
      await publisher.emit("sys.service.stopped", { service, pid: process.pid, reason }).catch(() => undefined);
      await publisher.close();
      await nc.drain().catch(() => undefined);
      log.info(`${service} stopped`);
    })();
    return stopping;
  };
  return { ctx, stop };
}

class StartAborted extends Error {
  constructor(sig: string) {
    super(sig);
    this.name = "StartAborted";
  }
}

/** The whole life of a service process (what each `main.ts` calls). */
export async function runService(service: string, start: StartService): Promise<void> {
  let config: VigilConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil-${service}: invalid configuration\n${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(service, config.log.level);
  startHeapCompaction(heapCompactionMsFromEnv(), log);
  let running: Awaited<ReturnType<typeof startService>> | undefined;
  let signalled = false;
  const startAborted = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      log.warn(`second ${sig}: exiting now`);
      process.exit(1);
    }
    signalled = true;
    startAborted.abort(new StartAborted(sig)); // e.g. still waiting for the stream: nothing to clean up
    // A signal during start: let the start finish (it may already run workers) and stop it properly;
    // a start that cannot finish (no server yet) has nothing to clean up, so give it 10 s at most.
    const done = running
      ? running.stop(sig)
      : Promise.race([starting.then((r) => r?.stop(sig)), new Promise<void>((r) => setTimeout(r, 10_000).unref())]);
    done.then(
      () => process.exit(0),
      (err) => {
        log.error({ err: (err as Error).message }, "unclean stop");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Started by `vigil up` with an IPC channel: when it goes away (even killed with -9), stop too.
  if (process.channel) {
    process.on("disconnect", () => onSignal("SIGTERM"));
    process.channel.unref();
  }
  const starting = startService(service, config, start, log, startAborted.signal).then(
    (r) => (running = r),
    (err) => {
      if (err instanceof StartAborted) {
        log.info(`${service} stopped before it had started (${err.message})`);
        process.exit(0);
      }
      log.fatal({ err: (err as Error).message }, `${service} failed to start`);
      process.exit(1);
    },
  );
  await starting;
}
