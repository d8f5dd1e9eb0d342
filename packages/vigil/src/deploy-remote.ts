import { randomUUID } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { findLog, is, readLogLines, tailEvents, verifyRemoteRequest, REMOTE_MAX_SKEW_MS, type Publisher, type RemoteRequest, type VigilConfig, type VigilEvent } from "@vigil/events";
import { deployFiles, readJson, readState, writeSynced } from "./deploy-files.js";

/**
 * Remote commands, logs and state from the hub (`vigil fleet restart|logs|state dev-1 …`): a request
 * on `fleet.remote.<device>` over the leaf link, signed by an operator key in fleet.trust, fresh
 * (REMOTE_MAX_SKEW_MS) and with a nonce used once (kept synced in deployment/nonces.json, so a
 * restart of vigil up does not reopen the replay window). Worker actions become the same cmd.worker.*
 * a local operator's CLI publishes, with `requestedBy` naming the operator and the hub.
 */

export const remoteSubject = (device: string): string => `fleet.remote.${device}`;
const OUTCOME = { restart: "out.worker.restarted", stop: "out.worker.stopped", start: "out.worker.started", pause: "out.worker.paused", resume: "out.worker.resumed" } as const;
const COMMAND = { restart: "cmd.worker.restart", stop: "cmd.worker.stop", start: "cmd.worker.start", pause: "cmd.worker.pause", resume: "cmd.worker.resume" } as const;

export interface RemoteResponder {
  stop(): Promise<void>;
}

export async function startRemoteResponder(nc: NatsConnection, config: VigilConfig, pub: Publisher, say: (m: string) => void): Promise<RemoteResponder> {
  const f = config.fleet!;
  const files = deployFiles(config.dataDir);
  const nonces = new Map<string, number>(Object.entries(readJson<Record<string, number>>(files.nonces) ?? {}));
  const seen = (nonce: string, now: number): boolean => {
    for (const [n, t] of nonces) if (now - t > 2 * REMOTE_MAX_SKEW_MS) nonces.delete(n);
    if (nonces.has(nonce)) return true;
    nonces.set(nonce, now);
    writeSynced(files.nonces, JSON.stringify(Object.fromEntries(nonces)));
    return false;
  };
  const waits = new Map<string, (e: VigilEvent) => void>();
  let workers: unknown[] = [];
  const tail = await tailEvents(nc, { stream: config.stream.name, filter: `vigil.${config.device}.>`, from: "new" }, (e) => {
    if (is(e, "sys.service.heartbeat") && e.data.service === "supervisor") workers = e.data.workers ?? [];
    const command = (e.data as { command?: unknown } | null)?.command;
    if (typeof command === "string" && (e.type.includes(".out.worker.") || e.type.endsWith("out.command.rejected") || e.type.endsWith("out.command.failed"))) waits.get(command)?.(e);
  });
  const sub: Subscription = nc.subscribe(remoteSubject(config.device), {
    callback: (_err, m) => {
      void answer(m.string()).then((r) => m.respond(JSON.stringify(r)), (err) => m.respond(JSON.stringify({ ok: false, error: (err as Error).message })));
    },
  });

  async function answer(text: string): Promise<object> {
    let signed: unknown;
    try {
      signed = JSON.parse(text);
    } catch {
      signed = undefined;
    }
    const now = Date.now();
    const v = verifyRemoteRequest(signed, { device: config.device, trust: f.trust, acceptRemote: f.acceptDeployments, now, seen: (n) => seen(n, now) });
    if (!v.ok) {
      const op = ((signed as { body?: { op?: unknown } } | undefined)?.body?.op);
      await pub.emit("dec.remote.refused", { reason: v.reason, ...(typeof op === "string" ? { op: op.slice(0, 16) } : {}) });
      say(`remote request REFUSED: ${v.reason}`);
      return { ok: false, error: v.reason };
    }
    const r = v.request;
    await pub.emit("dec.remote.accepted", { op: r.op, ...(r.worker ? { worker: r.worker } : {}), operator: r.operator, key: v.key });
    if (r.op === "logs") return logsOf(r);
    if (r.op === "state") return { ok: true, device: config.device, workers, deployment: readState(config.dataDir) };
    return command(r);
  }

  async function logsOf(r: RemoteRequest): Promise<object> {
    const log = r.worker ? findLog(config.dataDir, r.worker) : undefined;
    if (!log) return { ok: false, error: `no log for "${r.worker}" on ${config.device}` };
    return { ok: true, worker: r.worker, lines: await readLogLines(log.file, { lines: r.lines ?? 50 }) };
  }

  async function command(r: RemoteRequest): Promise<object> {
    if (!r.worker) return { ok: false, error: `${r.op} needs a worker` };
    const op = r.op as keyof typeof COMMAND;
    const requestedBy = `${r.operator} via fleet hub`.slice(0, 128);
    const id = randomUUID();
    const outcome = new Promise<VigilEvent>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no outcome for ${op} ${r.worker} in 30 s`)), 30_000);
      waits.set(id, (e) => {
        clearTimeout(t);
        resolve(e);
      });
    });
    try {
      await pub.emit(COMMAND[op], { worker: r.worker, requestedBy, reason: `remote ${op} from the fleet hub` }, { id });
      const e = await outcome;
      if (is(e, OUTCOME[op])) return { ok: true, op, worker: r.worker, pid: e.data.pid, previousPid: e.data.previousPid, requestedBy: e.data.requestedBy, command: id };
      return { ok: false, op, worker: r.worker, error: (e.data as { reason?: string; error?: string }).reason ?? (e.data as { error?: string }).error, command: id };
    } finally {
      waits.delete(id);
    }
  }

  return {
    async stop() {
      sub.unsubscribe();
      await tail.stop();
    },
  };
}
