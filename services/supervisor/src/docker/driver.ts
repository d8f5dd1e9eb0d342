import Docker from "dockerode";
import type { ContainerConfig, Logger } from "@vigil/events";
import { macNotKeptWarnings } from "../networks.js";
import type { RunStatus } from "../process-driver.js";
import { EngineEventStream } from "./engine-events.js";
import { ContainerLifecycle } from "./lifecycle.js";
import { DockerNetworks } from "./networks.js";
import { RunTable } from "./runs.js";
import { systemClock, type Attachment, type Clock, type DockerDriverEvents } from "./types.js";

export interface DockerDriverOptions {
  device: string;
  socketPath: string;
  log: Logger;
  events: DockerDriverEvents;
  /** Start times and uptimes (default: the system clock). */
  clock?: Clock;
}

/**
 * Runs container workloads on the local Docker engine (dockerode), with Docker's restart policy off:
 * exits come from the engine's event stream and Vigil decides. Containers carry the device and
 * workload as labels, so a supervisor that restarts adopts them instead of creating duplicates.
 * Shutdown leaves them running (they are the engine's children, not orphans) and stops watching.
 *
 * This class only wires the parts: the run table (runs.ts), one container's lifecycle (lifecycle.ts),
 * the engine's event stream (engine-events.ts) and the networks (networks.ts).
 */
export class DockerDriver {
  readonly docker: Docker;
  private readonly workloads: Map<string, ContainerConfig>;
  /** Containers a reload removed from the config, until their remove step deleted them. */
  private readonly retiring = new Map<string, ContainerConfig>();
  private readonly runs: RunTable;
  private readonly networks: DockerNetworks;
  private readonly lifecycle: ContainerLifecycle;
  private readonly engineEvents: EngineEventStream;
  private available = false;

  constructor(
    containers: ContainerConfig[],
    private readonly opts: DockerDriverOptions,
  ) {
    const { device, log, events } = opts;
    this.workloads = new Map(containers.map((c) => [c.name, c]));
    this.docker = new Docker({ socketPath: opts.socketPath });
    this.runs = new RunTable(this.workloads, events, opts.clock ?? systemClock);
    this.networks = new DockerNetworks(this.docker, { device, log });
    this.lifecycle = new ContainerLifecycle(this.docker, { device, log, workloads: this.workloads, runs: this.runs, networks: this.networks, reportNetworks: (name) => this.reportNetworks(name) });
    this.engineEvents = new EngineEventStream(this.docker, { device, log, runs: this.runs, events });
  }

  declared(): string[] {
    return [...this.workloads.keys()];
  }

  /**
   * A reload's new container declarations. The map is the one the run table and the lifecycle read,
   * so it changes in place; a container no longer declared is kept as retiring (its stop grace, and
   * the commands' routing to this driver) until its remove step.
   */
  declare(containers: readonly ContainerConfig[]): void {
    for (const [name, c] of this.workloads) if (!containers.some((x) => x.name === name)) this.retiring.set(name, c);
    this.workloads.clear();
    for (const c of containers) {
      this.workloads.set(c.name, c);
      this.retiring.delete(c.name);
    }
  }

  /** Whether this driver runs `name`: declared, or removed from the config and not yet deleted (or still running). */
  owns(name: string): boolean {
    return this.workloads.has(name) || this.retiring.has(name) || this.runs.get(name) !== undefined;
  }

  config(name: string): ContainerConfig | undefined {
    return this.workloads.get(name);
  }

  isAvailable(): boolean {
    return this.available;
  }

  status(name: string): { status: RunStatus; pid?: number; containerId?: string } {
    return this.runs.status(name);
  }

  /** Reaches the engine and subscribes to its events; throws a message naming the socket when it cannot. */
  async connect(): Promise<string> {
    let version: string;
    try {
      version = (await this.docker.version()).Version;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`Docker engine not reachable at ${this.opts.socketPath}: ${e.code ?? e.message}`);
    }
    await this.engineEvents.watch();
    this.available = true;
    return version;
  }

  /**
   * Starts the workload: adopts its running container, starts its stopped one, or creates it (a
   * container from an older config is replaced). Resolves with the container's main pid.
   */
  async start(name: string): Promise<{ pid: number; containerId: string; adopted: boolean }> {
    const c = this.workloads.get(name);
    if (!c) throw new Error(`unknown container workload "${name}"`);
    if (!this.available) throw new Error(`Docker engine not reachable at ${this.opts.socketPath}: container workload ${name} cannot run`);
    return this.lifecycle.start(name, c);
  }

  /** docker stop (SIGTERM, then SIGKILL after stopGraceMs); resolves when the engine reported the exit. */
  stop(name: string, graceMs?: number): Promise<void> {
    return this.lifecycle.stop(name, graceMs ?? this.retiring.get(name)?.stopGraceMs);
  }

  kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    return this.lifecycle.kill(name, signal);
  }

  pause(name: string): Promise<void> {
    return this.lifecycle.pause(name);
  }

  resume(name: string): Promise<void> {
    return this.lifecycle.resume(name);
  }

  /** Stops and deletes the workload's container and its internal network. */
  async remove(name: string): Promise<void> {
    await this.lifecycle.remove(name);
    this.retiring.delete(name);
  }

  /** See DockerNetworks.macvlanNetwork. */
  macvlanNetwork(parent: string, subnet: string, gateway?: string): Promise<string> {
    return this.networks.macvlanNetwork(parent, subnet, gateway);
  }

  /** What the container is attached to now, per configured vNIC (from the engine). */
  async attachments(name: string): Promise<{ containerId: string; internal?: string; vnics: Attachment[] }> {
    const c = this.workloads.get(name);
    const info = await this.lifecycle.find(name);
    if (!c || !info) throw new Error(`no container for workload ${name}`);
    return { containerId: info.Id, ...(await this.networks.attachments(info.Id, c)) };
  }

  /**
   * After the parent interface moved to another subnet: each vNIC on it leaves its old MACVLAN network
   * and joins the one for the new subnet with its configured address and MAC (reported as
   * `onNetworks`); warnings name a MAC the engine could not keep.
   */
  async reattach(name: string, iface: string, parent: { subnet?: string; gateway?: string } = {}): Promise<{ vnics: Attachment[]; warnings: string[] }> {
    const c = this.workloads.get(name);
    if (!c) throw new Error(`unknown container workload "${name}"`);
    const info = await this.lifecycle.find(name);
    if (!info) throw new Error(`no container for workload ${name}`);
    const onIface = c.vnics.filter((v) => v.parentInterface === iface);
    if (!onIface.length) throw new Error(`${name} has no vNIC on ${iface}`);
    await this.networks.moveToSubnet(info.Id, iface, onIface, parent);
    const a = await this.reportNetworks(name);
    const vnics = a.vnics.filter((x) => x.parentInterface === iface);
    return { vnics, warnings: macNotKeptWarnings(onIface, vnics) };
  }

  /** Stops watching; containers keep running and are adopted by the next supervisor. */
  close(): void {
    this.runs.clearTimers();
    this.engineEvents.close();
  }

  private async reportNetworks(name: string): Promise<{ containerId: string; internal?: string; vnics: Attachment[] }> {
    const a = await this.attachments(name);
    this.opts.events.onNetworks(name, a.containerId, a.internal, a.vnics);
    return a;
  }
}
