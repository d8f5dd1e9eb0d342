import type { Publisher } from "@vigil/events";
import type { ExecutedCommands, PidRegistry } from "./local-state.js";
import type { Waits } from "./executors.js";
import type { WorkerQueues } from "./worker-books.js";
import type { Workloads } from "./workloads.js";

/** Set once shutdown begins: queued work checks it between steps and does nothing further. */
export class ShutdownFlag {
  private on = false;
  readonly stopping = (): boolean => this.on;
  begin(): void {
    this.on = true;
  }
}

export interface ShutdownParts {
  flag: ShutdownFlag;
  /** Timers and subscriptions (heartbeat, degraded mode's inputs, the Docker retry), stopped first. */
  listeners: Array<() => void>;
  waits: Waits;
  consumer: { stop(): Promise<void> };
  workloads: Workloads;
  queues: WorkerQueues;
  bus: Publisher;
  executed: ExecutedCommands;
  /** Its last write (the workers all stopped) lands before the process ends. */
  registry: PidRegistry;
}

/** Stop listening, cut backoff waits short, stop the commands, every process worker (containers stay up), then flush the outbox. */
export async function shutdown(p: ShutdownParts): Promise<void> {
  for (const stop of p.listeners) stop();
  p.flag.begin();
  p.waits.releaseAll();
  await p.consumer.stop();
  await p.workloads.processes.stopAll();
  await p.queues.drain();
  await p.registry.settled();
  p.workloads.containers?.close();
  await p.bus.flush();
  await p.bus.close();
  await p.executed.close();
}
