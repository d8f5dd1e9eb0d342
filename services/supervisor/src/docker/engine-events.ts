import type Docker from "dockerode";
import type { Logger } from "@vigil/events";
import { LABEL } from "../networks.js";
import { endIfGone, type RunTable } from "./runs.js";
import type { DockerDriverEvents } from "./types.js";

/** One line of the engine's `/events` stream (old engines say `status`/`id`, new ones `Action`/`Actor`). */
export interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export type HealthStatus = "starting" | "healthy" | "unhealthy";

/** What an engine event means to the driver. */
export type EngineEvent =
  | { kind: "oom"; id: string }
  | { kind: "health"; id: string; worker?: string; status?: HealthStatus }
  | { kind: "die"; id: string; code: number | null }
  | { kind: "ignored" };

export function readDockerEvent(ev: DockerEvent): EngineEvent {
  const action = ev.Action ?? ev.status ?? "";
  const id = ev.Actor?.ID ?? ev.id ?? "";
  if (action === "oom") return { kind: "oom", id };
  if (action.startsWith("health_status")) {
    const status = action.split(":")[1]?.trim() as HealthStatus | undefined;
    const worker = ev.Actor?.Attributes?.[LABEL.workload];
    return { kind: "health", id, ...(worker !== undefined ? { worker } : {}), ...(status !== undefined ? { status } : {}) };
  }
  if (action !== "die") return { kind: "ignored" };
  const code = Number(ev.Actor?.Attributes?.exitCode ?? NaN);
  return { kind: "die", id, code: Number.isFinite(code) ? code : null };
}

/** Splits a chunked newline-delimited stream: the complete, non-blank lines and the unfinished rest. */
export function splitLines(buffered: string): { lines: string[]; rest: string } {
  const lines: string[] = [];
  let rest = buffered;
  let nl: number;
  while ((nl = rest.indexOf("\n")) >= 0) {
    const line = rest.slice(0, nl).trim();
    rest = rest.slice(nl + 1);
    if (line) lines.push(line);
  }
  return { lines, rest };
}

/**
 * The engine's container event stream for this device's containers: turns `die` into exits (with OOM
 * when an `oom` came first) and health changes into reports. When the stream drops (engine restart,
 * socket gone) it watches again and reconciles the runs whose exit it may have missed.
 */
export class EngineEventStream {
  private stream?: NodeJS.ReadableStream;
  private closed = false;
  /** Containers the engine reported OOM for, until their `die` arrives. */
  private readonly oomSeen = new Set<string>();

  constructor(
    private readonly docker: Docker,
    private readonly opts: { device: string; log: Logger; runs: RunTable; events: Pick<DockerDriverEvents, "onHealth"> },
  ) {}

  async watch(): Promise<void> {
    const stream = await this.docker.getEvents({ filters: { type: ["container"], label: [`${LABEL.device}=${this.opts.device}`] } });
    this.stream = stream;
    let buf = "";
    stream.on("data", (chunk: Buffer) => {
      const { lines, rest } = splitLines(buf + chunk.toString("utf8"));
      buf = rest;
      for (const line of lines) this.onLine(line);
    });
    stream.on("error", (err: Error) => this.opts.log.warn({ err: err.message }, "Docker event stream error"));
    stream.on("close", () => this.onClose());
  }

  /** Stops watching (for good: no reconnect). */
  close(): void {
    this.closed = true;
    const s = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    s?.destroy?.();
  }

  private onLine(line: string): void {
    try {
      this.onEvent(readDockerEvent(JSON.parse(line) as DockerEvent));
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message, line: line.slice(0, 200) }, "unreadable Docker event");
    }
  }

  private onEvent(ev: EngineEvent): void {
    if (ev.kind === "oom") {
      this.oomSeen.add(ev.id);
      return;
    }
    if (ev.kind === "health") {
      if (ev.worker && ev.status) this.opts.events.onHealth(ev.worker, ev.id, ev.status);
      return;
    }
    if (ev.kind !== "die") return;
    const found = this.opts.runs.byId(ev.id);
    if (!found) return; // not a run we own right now (e.g. the stop before a recreate)
    const [name, run] = found;
    // The engine sends `oom` before `die` on the same stream (State.OOMKilled is not reset by a restart,
    // so inspect cannot tell a later plain kill from an old OOM).
    const oom = this.oomSeen.delete(ev.id);
    this.opts.runs.ended(name, run, ev.code, oom);
  }

  private onClose(): void {
    if (this.closed) return;
    // The engine restarted or the socket dropped: watch again, then catch up on what we missed.
    this.opts.log.warn("Docker event stream closed; reconnecting");
    const retry = () =>
      this.watch()
        .then(() => this.reconcile())
        .catch(() => !this.closed && setTimeout(retry, 1_000).unref());
    setTimeout(retry, 200).unref();
  }

  /** After a gap in the event stream: a run whose container is no longer running exited meanwhile. */
  private async reconcile(): Promise<void> {
    for (const [name, r] of this.opts.runs.entries()) await endIfGone(this.docker, this.opts.runs, name, r);
  }
}
