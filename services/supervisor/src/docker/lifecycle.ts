import type Docker from "dockerode";
import type { ContainerConfig, Logger } from "@vigil/events";
import { containerName, hostLimits, LABEL, specHash } from "../networks.js";
import type { DockerNetworks } from "./networks.js";
import { endIfGone, type Run, type RunTable } from "./runs.js";
import { statusCodeOf } from "./types.js";

type ContainerState = Docker.ContainerInspectInfo["State"];

function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

/**
 * One container per workload through its life: adopt, start or create (replacing one from an older
 * config), stop, kill, pause, resume, remove. Containers carry the device and workload as labels, so a
 * supervisor that restarts adopts them instead of creating duplicates.
 */
export class ContainerLifecycle {
  /** The container each workload ran in last: a restart after a crash skips the label search. */
  private readonly lastId = new Map<string, { id: string; spec: string }>();

  constructor(
    private readonly docker: Docker,
    private readonly opts: {
      device: string;
      log: Logger;
      workloads: ReadonlyMap<string, ContainerConfig>;
      runs: RunTable;
      networks: DockerNetworks;
      /** Called once a new or adopted container runs (not after a plain restart of the same one). */
      reportNetworks: (name: string) => Promise<unknown>;
    },
  ) {}

  /** The container this device labelled for a workload, if any (newest first). */
  async find(name: string): Promise<Docker.ContainerInfo | undefined> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.device}=${this.opts.device}`, `${LABEL.workload}=${name}`] } });
    return list[0];
  }

  /**
   * Starts the workload: adopts its running container, starts its stopped one, or creates it (a
   * container from an older config is replaced). Resolves with the container's main pid.
   */
  async start(name: string, c: ContainerConfig): Promise<{ pid: number; containerId: string; adopted: boolean }> {
    const existing = this.opts.runs.get(name);
    if (existing) return { pid: existing.pid, containerId: existing.id, adopted: false };
    // A container from an older declaration (a reload changed it) is not reused: the label search replaces it.
    const last = this.lastId.get(name);
    const known = last?.spec === specHash(c) ? last.id : undefined;
    const info = await this.reusable(name, c, known);
    const current = await this.inspectOrRecreate(name, c, info ? info.Id : await this.create(c), known !== undefined);
    const { id, container } = current;
    const fromBefore = info !== undefined && !current.recreated;
    const adopted = fromBefore && current.state.Running;
    const state = adopted ? current.state : await this.startUntilRunning(container, current.state);
    if (!state.Running) throw new Error(`container ${name} exited right after start (code ${state.ExitCode}${state.Error ? `: ${state.Error}` : ""})`);
    this.lastId.set(name, { id, spec: specHash(c) });
    this.opts.runs.track(name, id, state.Pid, state.Paused);
    if (!fromBefore || adopted) void this.opts.reportNetworks(name).catch(() => undefined);
    return { pid: state.Pid, containerId: id, adopted };
  }

  /** The workload's existing container if it was created from this config; one from an older config is removed. */
  private async reusable(name: string, c: ContainerConfig, known: string | undefined): Promise<Docker.ContainerInfo | undefined> {
    const info = known ? ({ Id: known, Labels: { [LABEL.spec]: specHash(c) } } as unknown as Docker.ContainerInfo) : await this.find(name);
    if (!info || info.Labels[LABEL.spec] === specHash(c)) return info;
    this.opts.log.info({ worker: name, container: info.Id }, "container was created from an older config: replacing it");
    await this.docker.getContainer(info.Id).remove({ force: true });
    return undefined;
  }

  /** The container's state (inspect, not the list: right after a die the list can still say "running"). */
  private async inspectOrRecreate(name: string, c: ContainerConfig, id: string, known: boolean) {
    const container = this.docker.getContainer(id);
    let state: ContainerState;
    try {
      state = (await container.inspect()).State;
    } catch (err) {
      if (!known || !isNotFound(err)) throw err;
      // The container we ran last was removed behind our back: create it again.
      this.lastId.delete(name);
      const fresh = await this.create(c);
      const recreated = this.docker.getContainer(fresh);
      return { id: fresh, container: recreated, state: (await recreated.inspect()).State, recreated: true };
    }
    return { id, container, state, recreated: false };
  }

  /**
   * The die event can arrive before the engine has finished the exit: a start then answers 304
   * ("already started") and nothing runs. Start again until it is really running.
   */
  private async startUntilRunning(container: Docker.Container, state: ContainerState): Promise<ContainerState> {
    for (let attempt = 0; !state.Running && attempt < 20; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 25));
      await container.start().catch((err) => {
        if (statusCodeOf(err) !== 304) throw err;
      });
      state = (await container.inspect()).State;
    }
    return state;
  }

  private async create(c: ContainerConfig): Promise<string> {
    const { networks } = this.opts;
    const labels = { ...c.labels, [LABEL.device]: this.opts.device, [LABEL.workload]: c.name, [LABEL.spec]: specHash(c) };
    const internal = c.internalNetwork ? await networks.ensureInternal(c.name) : undefined;
    const dns = [...new Set(c.vnics.flatMap((v) => v.dns))];
    // The first vNIC is the primary network (eth0, default route on the LAN): the only endpoint whose
    // MAC Docker < 25 (API < 1.44) lets us choose, through the container's MacAddress.
    const [first, ...rest] = c.vnics;
    const primary = first ? await networks.endpoint(first) : undefined;
    const network = primary?.network ?? internal ?? "bridge";
    const created = await this.docker.createContainer({
      name: containerName(this.opts.device, c.name),
      Image: c.image,
      ...(c.command ? { Cmd: c.command } : {}),
      Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ...(primary?.mac ? { MacAddress: primary.mac } : {}),
      HostConfig: { ...hostLimits(c), NetworkMode: network, ...(dns.length ? { Dns: dns } : {}) },
      NetworkingConfig: { EndpointsConfig: { [network]: primary?.ip ? { IPAMConfig: { IPv4Address: primary.ip } } : {} } },
    });
    if (primary && internal) await this.docker.getNetwork(internal).connect({ Container: created.id });
    for (const v of rest) await networks.attach(created.id, v);
    return created.id;
  }

  /** docker stop (SIGTERM, then SIGKILL after stopGraceMs); resolves when the engine reported the exit. */
  async stop(name: string, graceMs?: number): Promise<void> {
    const r = this.opts.runs.get(name);
    if (!r) return;
    r.expected = true;
    const grace = graceMs ?? this.opts.workloads.get(name)?.stopGraceMs ?? 5_000;
    const c = this.docker.getContainer(r.id);
    if (r.paused) await c.unpause().catch(() => undefined);
    await c.stop({ t: Math.ceil(grace / 1000) }).catch((err) => {
      if (!isNotFound(err) && statusCodeOf(err) !== 304) throw err;
    });
    await this.settle(name, r);
  }

  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const r = this.opts.runs.get(name);
    if (!r) return;
    r.expected = true;
    await this.docker.getContainer(r.id).kill({ signal });
    if (signal === "SIGKILL") await this.settle(name, r);
  }

  /** Waits for the die event; if the stream lags, the engine's own state settles it. */
  private async settle(name: string, r: Run): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      r.exited,
      new Promise<void>((res) => {
        timer = setTimeout(async () => {
          await endIfGone(this.docker, this.opts.runs, name, r);
          res();
        }, 3_000);
      }),
    ]);
    clearTimeout(timer);
  }

  async pause(name: string): Promise<void> {
    const r = this.opts.runs.get(name);
    if (!r || r.paused) return;
    await this.docker.getContainer(r.id).pause();
    r.paused = true;
  }

  async resume(name: string): Promise<void> {
    const r = this.opts.runs.get(name);
    if (!r || !r.paused) return;
    await this.docker.getContainer(r.id).unpause();
    r.paused = false;
  }

  /** Stops and deletes the workload's container and its internal network. */
  async remove(name: string): Promise<void> {
    await this.stop(name, 0);
    const info = await this.find(name);
    if (info) await this.docker.getContainer(info.Id).remove({ force: true });
    this.lastId.delete(name);
    await this.opts.networks.removeInternal(name);
  }
}
