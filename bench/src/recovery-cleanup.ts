// The recovery benchmark's cleanup: everything it started is taken down, whatever failed.
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import { readPidStat } from "@vigil/events";
import type { TestNatsServer } from "@vigil/events/testing";
import { progress, withTimeout } from "./recovery-common.js";

// ───────────────────────────── cleanup bookkeeping ─────────────────────────────

/** Everything started, so `finally` can take it down whatever failed. */
export class Cleanup {
  private readonly children = new Set<{ name: string; child: ChildProcess; signal: NodeJS.Signals }>();
  private readonly dirs = new Set<string>();
  /** Process group leader pid → its start time, so a pid reused meanwhile is never killed. */
  private readonly groups = new Map<number, string | undefined>();
  private readonly registries = new Set<string>();
  private readonly connections = new Set<NatsConnection>();
  nats?: TestNatsServer;

  child(name: string, child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): ChildProcess {
    const entry = { name, child, signal };
    this.children.add(entry);
    child.once("exit", () => this.children.delete(entry));
    return child;
  }
  dir(d: string): string {
    this.dirs.add(d);
    return d;
  }
  /** A process group to SIGKILL at the end if still there (workers we did not spawn ourselves). */
  group(pid: number): void {
    this.groups.set(pid, processStartTime(pid));
  }
  /** The group is gone (a worker the benchmark killed). */
  forget(pid: number): void {
    this.groups.delete(pid);
  }
  /**
   * The supervisor's orphan registry: whatever it still lists once the services are gone is killed
   * too (a supervisor stopped while starting exits without stopping the worker it already spawned).
   */
  registry(file: string): void {
    this.registries.add(file);
  }
  connection(nc: NatsConnection): NatsConnection {
    this.connections.add(nc);
    return nc;
  }

  async run(): Promise<void> {
    // Services in reverse start order, as `vigil up` stops them (SIGTERM: the supervisor stops its worker); sleeps last.
    const ordered = [...this.children].reverse().sort((a, b) => Number(a.signal === "SIGKILL") - Number(b.signal === "SIGKILL"));
    for (const { name, child, signal } of ordered) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, "exit");
      child.kill(signal);
      const ok = await withTimeout(exited, 15_000, `${name} to exit`).then(
        () => true,
        () => false,
      );
      if (!ok) {
        progress(`${name} did not stop after ${signal}; killing it`);
        child.kill("SIGKILL");
        await once(child, "exit").catch(() => undefined);
      }
    }
    for (const file of this.registries) {
      try {
        const entries = JSON.parse(readFileSync(file, "utf8")) as Record<string, { pid: number; start?: string }>;
        for (const { pid, start } of Object.values(entries)) this.groups.set(pid, start);
      } catch {
        /* no registry written */
      }
    }
    for (const [pid, start] of this.groups) {
      if (!start || processStartTime(pid) !== start) continue;
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    for (const nc of this.connections) await nc.close().catch(() => undefined);
    await this.nats?.cleanup().catch((err) => progress(`could not stop nats-server: ${(err as Error).message}`));
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** `/proc/<pid>/stat` field 22, as the supervisor's registry records it: a reused pid does not match. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readPidStat(pid);
    return stat && String(stat.starttime);
  } catch {
    return undefined;
  }
}
