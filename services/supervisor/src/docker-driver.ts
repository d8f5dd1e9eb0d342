import { constants } from "node:os";
import Docker from "dockerode";
import type { ContainerConfig, Logger, VnicConfig } from "@vigil/events";
import { containerName, hostLimits, hostSubnet, internalName, LABEL, macvlanName, overlaps, specHash, vnicEndpoint } from "./networks.js";
import { nowMs, type DriverEvents, type ExitInfo, type RunStatus } from "./process-driver.js";

/** A vNIC as attached: what `obs.container.networks` and `out.container.reattached` carry. */
export interface Attachment {
  vnic: string;
  parentInterface: string;
  network: string;
  subnet: string;
  gateway?: string;
  mode: "dhcp" | "manual";
  ip?: string;
  mac?: string;
}

export interface DockerDriverEvents extends DriverEvents {
  onExited(info: ExitInfo & { oom?: boolean; containerId?: string }): void;
  onHealth(worker: string, containerId: string, status: "starting" | "healthy" | "unhealthy"): void;
  onNetworks(worker: string, containerId: string, internal: string | undefined, vnics: Attachment[]): void;
}

interface Run {
  id: string;
  pid: number;
  startedAt: number;
  expected: boolean;
  paused: boolean;
  exited: Promise<void>;
  resolveExit: () => void;
  stableTimer?: NodeJS.Timeout;
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

const SIGNALS = Object.entries(constants.signals) as Array<[string, number]>;

/** Docker's exit code 128+n means signal n. */
function signalOf(code: number): string | null {
  if (code <= 128 || code > 128 + 64) return null;
  return SIGNALS.find(([, n]) => n === code - 128)?.[0] ?? null;
}

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

/**
 * Runs container workloads on the local Docker engine (dockerode), with Docker's restart policy off:
 * exits come from the engine's event stream and Vigil decides. Containers carry the device and
 * workload as labels, so a supervisor that restarts adopts them instead of creating duplicates.
 * Shutdown leaves them running (they are the engine's children, not orphans) and stops watching.
 */
export class DockerDriver {
  readonly docker: Docker;
  private readonly runs = new Map<string, Run>();
  private readonly workloads: Map<string, ContainerConfig>;
  private readonly oomSeen = new Set<string>();
  /** The container each workload ran in last: a restart after a crash skips the label search. */
  private readonly lastId = new Map<string, string>();
  private events?: NodeJS.ReadableStream;
  private closed = false;
  private available = false;

  constructor(
    containers: ContainerConfig[],
    private readonly opts: { device: string; socketPath: string; log: Logger; events: DockerDriverEvents },
  ) {
    this.workloads = new Map(containers.map((c) => [c.name, c]));
    this.docker = new Docker({ socketPath: opts.socketPath });
  }

  declared(): string[] {
    return [...this.workloads.keys()];
  }

  config(name: string): ContainerConfig | undefined {
    return this.workloads.get(name);
  }

  isAvailable(): boolean {
    return this.available;
  }

  status(name: string): { status: RunStatus; pid?: number; containerId?: string } {
    const r = this.runs.get(name);
    if (!r) return { status: "stopped" };
    return { status: r.paused ? "paused" : "running", pid: r.pid, containerId: r.id };
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
    await this.watch();
    this.available = true;
    return version;
  }

  private async watch(): Promise<void> {
    const stream = await this.docker.getEvents({ filters: { type: ["container"], label: [`${LABEL.device}=${this.opts.device}`] } });
    this.events = stream;
    let buf = "";
    stream.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.onDockerEvent(JSON.parse(line) as DockerEvent);
        } catch (err) {
          this.opts.log.warn({ err: (err as Error).message, line: line.slice(0, 200) }, "unreadable Docker event");
        }
      }
    });
    stream.on("error", (err: Error) => this.opts.log.warn({ err: err.message }, "Docker event stream error"));
    stream.on("close", () => {
      if (this.closed) return;
      // The engine restarted or the socket dropped: watch again, then catch up on what we missed.
      this.opts.log.warn("Docker event stream closed; reconnecting");
      const retry = () =>
        this.watch()
          .then(() => this.reconcile())
          .catch(() => !this.closed && setTimeout(retry, 1_000).unref());
      setTimeout(retry, 200).unref();
    });
  }

  /** After a gap in the event stream: a run whose container is no longer running exited meanwhile. */
  private async reconcile(): Promise<void> {
    for (const [name, r] of [...this.runs]) {
      const info = await this.docker.getContainer(r.id).inspect().catch(() => undefined);
      if (!info?.State.Running) this.ended(name, r, info?.State.ExitCode ?? null, info?.State.OOMKilled ?? false);
    }
  }

  private runById(id: string): [string, Run] | undefined {
    for (const e of this.runs) if (e[1].id === id) return e;
    return undefined;
  }

  private onDockerEvent(ev: DockerEvent): void {
    const action = ev.Action ?? ev.status ?? "";
    const id = ev.Actor?.ID ?? ev.id ?? "";
    const worker = ev.Actor?.Attributes?.[LABEL.workload];
    if (action === "oom") {
      this.oomSeen.add(id);
      return;
    }
    if (action.startsWith("health_status")) {
      const status = action.split(":")[1]?.trim() as "starting" | "healthy" | "unhealthy" | undefined;
      if (worker && status) this.opts.events.onHealth(worker, id, status);
      return;
    }
    if (action !== "die") return;
    const found = this.runById(id);
    if (!found) return; // not a run we own right now (e.g. the stop before a recreate)
    const [name, run] = found;
    const code = Number(ev.Actor?.Attributes?.exitCode ?? NaN);
    // The engine sends `oom` before `die` on the same stream (State.OOMKilled is not reset by a restart,
    // so inspect cannot tell a later plain kill from an old OOM).
    const oom = this.oomSeen.delete(id);
    this.ended(name, run, Number.isFinite(code) ? code : null, oom);
  }

  private ended(name: string, run: Run, code: number | null, oom: boolean): void {
    if (this.runs.get(name) !== run) return;
    this.runs.delete(name);
    if (run.stableTimer) clearTimeout(run.stableTimer);
    this.opts.events.onExited({
      worker: name,
      pid: run.pid,
      code,
      signal: code === null ? null : signalOf(code),
      expected: run.expected,
      uptimeMs: Math.max(0, nowMs() - run.startedAt),
      containerId: run.id,
      ...(oom ? { oom: true } : {}),
    });
    run.resolveExit();
  }

  /** The container this device labelled for a workload, if any (newest first). */
  private async find(name: string): Promise<Docker.ContainerInfo | undefined> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL.device}=${this.opts.device}`, `${LABEL.workload}=${name}`] } });
    return list[0];
  }

  /**
   * Starts the workload: adopts its running container, starts its stopped one, or creates it (a
   * container from an older config is replaced). Resolves with the container's main pid.
   */
  async start(name: string): Promise<{ pid: number; containerId: string; adopted: boolean }> {
    const c = this.workloads.get(name);
    if (!c) throw new Error(`unknown container workload "${name}"`);
    if (!this.available) throw new Error(`Docker engine not reachable at ${this.opts.socketPath}: container workload ${name} cannot run`);
    const existing = this.runs.get(name);
    if (existing) return { pid: existing.pid, containerId: existing.id, adopted: false };
    const known = this.lastId.get(name);
    let info = known ? ({ Id: known, Labels: { [LABEL.spec]: specHash(c) } } as unknown as Docker.ContainerInfo) : await this.find(name);
    if (info && info.Labels[LABEL.spec] !== specHash(c)) {
      this.opts.log.info({ worker: name, container: info.Id }, "container was created from an older config: replacing it");
      await this.docker.getContainer(info.Id).remove({ force: true });
      info = undefined;
    }
    let id: string;
    let adopted = false;
    id = info ? info.Id : await this.create(c);
    let container = this.docker.getContainer(id);
    // Inspect, not the list: right after a die the list can still say "running".
    let state = await container.inspect().then(
      (i) => i.State,
      async (err) => {
        if (!known || !isNotFound(err)) throw err;
        // Removed behind our back: create it again.
        this.lastId.delete(name);
        info = undefined;
        id = await this.create(c);
        container = this.docker.getContainer(id);
        return (await container.inspect()).State;
      },
    );
    adopted = info !== undefined && state.Running;
    // The die event can arrive before the engine has finished the exit: a start then answers 304
    // ("already started") and nothing runs. Start again until it is really running.
    for (let attempt = 0; !adopted && !state.Running && attempt < 20; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 25));
      await container.start().catch((err) => {
        if ((err as { statusCode?: number }).statusCode !== 304) throw err;
      });
      state = (await container.inspect()).State;
    }
    if (!state.Running) throw new Error(`container ${name} exited right after start (code ${state.ExitCode}${state.Error ? `: ${state.Error}` : ""})`);
    this.lastId.set(name, id);
    this.track(name, id, state.Pid, state.Paused);
    if (!info || adopted) void this.reportNetworks(name).catch(() => undefined);
    return { pid: state.Pid, containerId: id, adopted };
  }

  private track(name: string, id: string, pid: number, paused: boolean): void {
    const c = this.workloads.get(name)!;
    let resolveExit!: () => void;
    const at = nowMs();
    const run: Run = { id, pid, startedAt: at, expected: false, paused, exited: new Promise((r) => (resolveExit = r)), resolveExit: () => resolveExit() };
    this.runs.set(name, run);
    run.stableTimer = setTimeout(() => {
      if (this.runs.get(name) === run) this.opts.events.onStable(name, pid, Math.round(nowMs() - run.startedAt));
    }, c.restart.stableMs);
    run.stableTimer.unref();
    this.opts.events.onStarted(name, pid, at);
  }

  private async create(c: ContainerConfig): Promise<string> {
    const labels = { ...c.labels, [LABEL.device]: this.opts.device, [LABEL.workload]: c.name, [LABEL.spec]: specHash(c) };
    const internal = c.internalNetwork ? await this.ensureInternal(c.name) : undefined;
    const dns = [...new Set(c.vnics.flatMap((v) => v.dns))];
    // The first vNIC is the primary network (eth0, default route on the LAN): the only endpoint whose
    // MAC Docker < 25 (API < 1.44) lets us choose, through the container's MacAddress.
    const [first, ...rest] = c.vnics;
    let primary: { network: string; ip?: string; mac?: string } | undefined;
    if (first) {
      const ep = vnicEndpoint(first, this.parentOf(first));
      if (ep.error) throw new Error(ep.error);
      primary = { network: await this.macvlanNetwork(first.parentInterface, ep.subnet, ep.gateway), ...(ep.ip ? { ip: ep.ip } : {}), ...(ep.mac ? { mac: ep.mac } : {}) };
    }
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
    for (const v of rest) await this.attach(created.id, v);
    return created.id;
  }

  private async ensureInternal(workload: string): Promise<string> {
    const name = internalName(workload);
    const found = await this.docker.listNetworks({ filters: { name: [name] } });
    if (found.some((n) => n.Name === name)) return name;
    await this.docker
      .createNetwork({ Name: name, Driver: "bridge", Internal: true, Labels: { [LABEL.device]: this.opts.device, [LABEL.workload]: workload } })
      .catch((err) => {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err;
      });
    return name;
  }

  /**
   * The MACVLAN network for a parent interface and subnet: the one by that name, else a new one; when
   * Docker refuses it for a pool overlap, an existing MACVLAN network on the same parent that covers it.
   */
  async macvlanNetwork(parent: string, subnet: string, gateway?: string): Promise<string> {
    const name = macvlanName(parent, subnet);
    const nets = await this.docker.listNetworks({ filters: { driver: ["macvlan"] } });
    if (nets.some((n) => n.Name === name)) return name;
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: "macvlan",
        Options: { parent },
        IPAM: { Driver: "default", Config: [{ Subnet: subnet, ...(gateway ? { Gateway: gateway } : {}) }] },
        Labels: { [LABEL.device]: this.opts.device, [LABEL.parent]: parent },
      });
      return name;
    } catch (err) {
      const msg = (err as Error).message;
      if (!/overlap/i.test(msg)) throw err;
      const reuse = nets.find((n) => n.Options?.parent === parent && (n.IPAM?.Config ?? []).some((p) => p.Subnet && overlaps(p.Subnet, subnet)));
      if (!reuse) throw new Error(`MACVLAN network for ${parent} ${subnet}: ${msg}`);
      this.opts.log.info({ parent, subnet, network: reuse.Name }, "pool overlap: reusing the existing MACVLAN network");
      return reuse.Name;
    }
  }

  private parentOf(v: VnicConfig, override?: { subnet?: string; gateway?: string }): { subnet: string; gateway?: string } {
    const subnet = override?.subnet ?? v.parentSubnet ?? hostSubnet(v.parentInterface)?.subnet;
    if (!subnet) throw new Error(`vNIC ${v.name}: no IPv4 subnet known for parent interface ${v.parentInterface} (set parentSubnet, or bring the interface up)`);
    const gateway = override?.subnet ? override.gateway : (v.parentGateway ?? override?.gateway);
    return { subnet, ...(gateway ? { gateway } : {}) };
  }

  private async attach(containerId: string, v: VnicConfig, override?: { subnet?: string; gateway?: string }): Promise<string> {
    const ep = vnicEndpoint(v, this.parentOf(v, override));
    if (ep.error) throw new Error(ep.error);
    const network = await this.macvlanNetwork(v.parentInterface, ep.subnet, ep.gateway);
    await this.docker.getNetwork(network).connect({
      Container: containerId,
      EndpointConfig: { ...(ep.ip ? { IPAMConfig: { IPv4Address: ep.ip } } : {}), ...(ep.mac ? { MacAddress: ep.mac } : {}) },
    });
    return network;
  }

  /** What the container is attached to now, per configured vNIC (from the engine). */
  async attachments(name: string): Promise<{ containerId: string; internal?: string; vnics: Attachment[] }> {
    const c = this.workloads.get(name);
    const info = await this.find(name);
    if (!c || !info) throw new Error(`no container for workload ${name}`);
    const inspect = await this.docker.getContainer(info.Id).inspect();
    const attached = inspect.NetworkSettings.Networks;
    const macvlans = await this.docker.listNetworks({ filters: { driver: ["macvlan"] } });
    const vnics: Attachment[] = [];
    for (const v of c.vnics) {
      const net = macvlans.find((n) => n.Options?.parent === v.parentInterface && attached[n.Name]);
      if (!net) continue;
      const ep = attached[net.Name]!;
      const pool = net.IPAM?.Config?.[0];
      vnics.push({
        vnic: v.name,
        parentInterface: v.parentInterface,
        network: net.Name,
        subnet: pool?.Subnet ?? "",
        ...(pool?.Gateway ? { gateway: pool.Gateway } : {}),
        mode: v.mode,
        ...(ep.IPAddress ? { ip: ep.IPAddress } : {}),
        ...(ep.MacAddress ? { mac: ep.MacAddress } : {}),
      });
    }
    const internal = c.internalNetwork && attached[internalName(name)] ? internalName(name) : undefined;
    return { containerId: info.Id, ...(internal ? { internal } : {}), vnics };
  }

  private async reportNetworks(name: string): Promise<void> {
    const a = await this.attachments(name);
    this.opts.events.onNetworks(name, a.containerId, a.internal, a.vnics);
  }

  /**
   * After the parent interface moved to another subnet: each vNIC on it leaves its old MACVLAN network
   * and joins the one for the new subnet with its configured address and MAC. The old network is
   * removed when nothing else uses it (so the new pool does not overlap it).
   */
  async reattach(name: string, iface: string, parent: { subnet?: string; gateway?: string } = {}): Promise<{ vnics: Attachment[]; warnings: string[] }> {
    const c = this.workloads.get(name);
    if (!c) throw new Error(`unknown container workload "${name}"`);
    const info = await this.find(name);
    if (!info) throw new Error(`no container for workload ${name}`);
    const onIface = c.vnics.filter((v) => v.parentInterface === iface);
    if (!onIface.length) throw new Error(`${name} has no vNIC on ${iface}`);
    const inspect = await this.docker.getContainer(info.Id).inspect();
    const macvlans = await this.docker.listNetworks({ filters: { driver: ["macvlan"] } });
    for (const net of macvlans.filter((n) => n.Options?.parent === iface && inspect.NetworkSettings.Networks[n.Name])) {
      await this.docker.getNetwork(net.Name).disconnect({ Container: info.Id, Force: true });
      const left = await this.docker.getNetwork(net.Name).inspect().catch(() => undefined);
      if (left && Object.keys(left.Containers ?? {}).length === 0) await this.docker.getNetwork(net.Name).remove().catch(() => undefined);
    }
    for (const v of onIface) await this.attach(info.Id, v, parent);
    const a = await this.attachments(name);
    this.opts.events.onNetworks(name, a.containerId, a.internal, a.vnics);
    const vnics = a.vnics.filter((x) => x.parentInterface === iface);
    const warnings: string[] = [];
    for (const v of onIface) {
      const got = vnics.find((x) => x.vnic === v.name);
      if (v.mac && got?.mac && got.mac.toLowerCase() !== v.mac.toLowerCase()) {
        warnings.push(`vNIC ${v.name}: MAC ${v.mac} not kept (got ${got.mac}): this Docker engine cannot set a MAC when connecting a network (needs API 1.44, Docker 25+)`);
      }
    }
    return { vnics, warnings };
  }

  /** docker stop (SIGTERM, then SIGKILL after stopGraceMs); resolves when the engine reported the exit. */
  async stop(name: string, graceMs?: number): Promise<void> {
    const r = this.runs.get(name);
    if (!r) return;
    r.expected = true;
    const grace = graceMs ?? this.workloads.get(name)?.stopGraceMs ?? 5_000;
    const c = this.docker.getContainer(r.id);
    if (r.paused) await c.unpause().catch(() => undefined);
    await c.stop({ t: Math.ceil(grace / 1000) }).catch((err) => {
      if (!isNotFound(err) && (err as { statusCode?: number }).statusCode !== 304) throw err;
    });
    await this.settle(name, r);
  }

  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const r = this.runs.get(name);
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
          const i = await this.docker.getContainer(r.id).inspect().catch(() => undefined);
          if (!i?.State.Running) this.ended(name, r, i?.State.ExitCode ?? null, i?.State.OOMKilled ?? false);
          res();
        }, 3_000);
      }),
    ]);
    clearTimeout(timer);
  }

  async pause(name: string): Promise<void> {
    const r = this.runs.get(name);
    if (!r || r.paused) return;
    await this.docker.getContainer(r.id).pause();
    r.paused = true;
  }

  async resume(name: string): Promise<void> {
    const r = this.runs.get(name);
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
    await this.docker.getNetwork(internalName(name)).remove().catch(() => undefined);
  }

  /** Stops watching; containers keep running and are adopted by the next supervisor. */
  close(): void {
    this.closed = true;
    for (const r of this.runs.values()) if (r.stableTimer) clearTimeout(r.stableTimer);
    const s = this.events as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    s?.destroy?.();
  }
}
