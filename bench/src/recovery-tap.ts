// The recovery benchmark's view of the bus: a core subscription on every event of the device, each
// event with its arrival time here (used by the isolated and the full-system profile alike).
import type { NatsConnection } from "@nats-io/transport-node";
import { now, WAIT_MS, withTimeout } from "./recovery-common.js";

export interface BusEvent {
  type: string;
  id: string;
  causation?: string;
  /** The publisher's clock (ms precision): for obs.worker.exited, when the supervisor saw the exit. */
  time?: string;
  data: Record<string, any>;
}

/**
 * The subjects a kill's chain (followChain) is made of, on `device`: a tap on these alone does not
 * parse the full profile's background traffic (1,000 events/s) in the thread that watches /proc.
 */
export function chainSubjects(device: string): string[] {
  return ["obs.worker.exited", "cmd.worker.restart", "out.worker.restarted", "dec.incident.escalated", "out.command.failed", "out.command.rejected"].map((n) => `vigil.${device}.${n}`);
}

/** Core NATS subscriptions on `subjects` (wildcards allowed); listeners see each event with its arrival time. */
export class EventTap {
  private readonly listeners = new Set<(e: BusEvent, at: number) => void>();
  private readonly last: BusEvent[] = [];

  constructor(nc: NatsConnection, subjects: string | string[]) {
    for (const subject of typeof subjects === "string" ? [subjects] : subjects) this.listen(nc, subject);
  }

  private listen(nc: NatsConnection, subject: string): void {
    nc.subscribe(subject, {
      callback: (err, m) => {
        const at = now();
        if (err) return;
        let e: BusEvent;
        try {
          e = m.json<BusEvent>();
        } catch {
          return;
        }
        this.last.push(e);
        if (this.last.length > 20) this.last.shift();
        for (const l of [...this.listeners]) l(e, at);
      },
    });
  }

  /** Resolves with the first event from now on that matches. */
  waitFor(what: string, pred: (e: BusEvent) => boolean, ms = WAIT_MS): Promise<{ e: BusEvent; at: number }> {
    let listener!: (e: BusEvent, at: number) => void;
    const p = new Promise<{ e: BusEvent; at: number }>((res) => {
      listener = (e, at) => {
        if (pred(e)) res({ e, at });
      };
      this.listeners.add(listener);
    });
    return withTimeout(p, ms, what)
      .catch((err: Error) => {
        throw new Error(`${err.message}; last events:\n  ${this.recent.join("\n  ")}`);
      })
      .finally(() => this.listeners.delete(listener));
  }

  /** The last events seen, one line each (for error messages). */
  get recent(): string[] {
    return this.last.map((e) => `${e.type.replace("io.vigil.", "")} ${JSON.stringify(e.data).slice(0, 140)}`);
  }

  on(listener: (e: BusEvent, at: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const T = (name: string) => `io.vigil.${name}`;

/** When each event of one kill's causation chain (exited → command → outcome) reached the tap. */
export interface Chain {
  exitAt: number;
  /** obs.worker.exited's own `time`: when the supervisor handled the exit (its clock, ms precision). */
  exitStamp: number;
  commandAt: number;
  outcomeAt: number;
  /** out.worker.restarted's `data.at`: the supervisor's stamp right after spawn() returned. */
  spawnedAt: number;
  pid: number;
}

/** Follows the chain started by killing `killed` of `worker`; rejects on an escalation or a failed command. */
export function followChain(tap: EventTap, worker: string, killed: number): { done: Promise<Chain>; stop: () => void } {
  const c: Partial<Chain> & { exitId?: string; cmdId?: string } = {};
  let stop = () => undefined as unknown;
  const done = new Promise<Chain>((resolve, reject) => {
    stop = tap.on((e, at) => {
      if (e.type === T("obs.worker.exited") && e.data.worker === worker && e.data.pid === killed) {
        c.exitId = e.id;
        c.exitAt = at;
        c.exitStamp = Date.parse(e.time ?? "");
      } else if (e.type === T("cmd.worker.restart") && c.exitId && e.causation === c.exitId) {
        c.cmdId = e.id;
        c.commandAt = at;
      } else if (e.type === T("out.worker.restarted") && c.cmdId && e.causation === c.cmdId) {
        resolve({ ...(c as Chain), outcomeAt: at, spawnedAt: e.data.at, pid: e.data.pid });
      } else if (e.type === T("dec.incident.escalated") && e.data.worker === worker) {
        reject(new Error(`the decider escalated instead of restarting: ${e.data.reason}`));
      } else if ((e.type === T("out.command.failed") || e.type === T("out.command.rejected")) && c.cmdId && e.data.command === c.cmdId) {
        reject(new Error(`restart command ${e.type}: ${JSON.stringify(e.data)}`));
      }
    });
  });
  // Awaited only after the new pid is seen: a rejection meanwhile must not count as unhandled.
  done.catch(() => undefined);
  return { done, stop: () => void stop() };
}
