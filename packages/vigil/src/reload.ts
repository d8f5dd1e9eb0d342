import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { is, loadConfig, tailEvents, type VigilConfig, type VigilEvent } from "@vigil/events";
import { reloadRequestFile } from "@vigil/supervisor";
import { connectToRunning, runningSystem, type TargetOptions } from "./connect.js";
import { UsageError } from "./embedded-nats.js";
import { formatEvent } from "./format.js";
import type { ServiceName } from "./paths.js";

export interface ReloadOptions extends TargetOptions {
  dryRun: boolean;
  json: boolean;
}

/** How long to wait for the supervisor's plan, then for the last step's outcome. */
const PLAN_TIMEOUT_MS = 15_000;
const APPLY_TIMEOUT_MS = 120_000;

/**
 * `vigil reload [--dry-run]`: validates the running system's config file here (a bad one: exit 2,
 * naming the field, nothing sent), leaves the change id in <dataDir>/reload-request.json and sends
 * SIGHUP to `vigil up`, which restarts the services whose own settings changed and passes the signal
 * to the supervisor; the supervisor re-reads its local file, plans and applies (docs/reload.md).
 * Prints the plan and each step's outcome from the bus; exit 1 when a step failed.
 */
export async function reload(o: ReloadOptions): Promise<number> {
  const sys = runningSystem(o); // a ConfigError here is exit 2 with the field (main.ts)
  const pid = sys.runtime?.pid;
  if (!pid || !alive(pid)) throw new UsageError(`no running vigil up found for ${sys.config.dataDir} (start it with 'vigil up', or pass --data-dir)`, 1);
  const { nc, config } = await connectToRunning(o);
  const change = randomUUID();
  const seen: VigilEvent[] = [];
  let wake: () => void = () => undefined;
  const feed = await tailEvents(nc, { stream: config.stream.name, filter: `vigil.${config.device}.>`, from: "new" }, (e) => {
    if (changeOf(e) === change) {
      seen.push(e);
      wake();
    }
  });
  try {
    writeFileSync(reloadRequestFile(config.dataDir), JSON.stringify({ change, ...(o.dryRun ? { dryRun: true } : {}) }), { mode: 0o600 });
    process.kill(pid, "SIGHUP");
    const first = await until(() => seen.find((e) => is(e, "dec.config.planned") || is(e, "dec.config.rejected")), PLAN_TIMEOUT_MS, (w) => (wake = w));
    if (!first) throw new UsageError(`reload ${change.slice(0, 8)}: no plan from the supervisor within ${PLAN_TIMEOUT_MS / 1000} s (is it running? see its log)`, 1);
    if (is(first, "dec.config.rejected")) return print(o, [first], 2);
    if (o.dryRun) return print(o, [first], 0);
    if (!o.json) process.stdout.write(`${formatEvent(first)}\n`);
    let printed = 1;
    const last = await until(
      () => {
        if (!o.json) for (; printed < seen.length; printed++) process.stdout.write(`${formatEvent(seen[printed]!)}\n`);
        return seen.find((e) => is(e, "out.config.applied"));
      },
      APPLY_TIMEOUT_MS,
      (w) => (wake = w),
    );
    if (!last) throw new UsageError(`reload ${change.slice(0, 8)}: not finished within ${APPLY_TIMEOUT_MS / 1000} s`, 1);
    const failed = is(last, "out.config.applied") ? last.data.failed : 0;
    if (o.json) process.stdout.write(JSON.stringify(seen, null, 2) + "\n");
    return failed ? 1 : 0;
  } finally {
    await feed.stop();
    await nc.close();
  }
}

function print(o: ReloadOptions, events: VigilEvent[], code: number): number {
  if (o.json) process.stdout.write(JSON.stringify(events, null, 2) + "\n");
  else
    for (const e of events) {
      process.stdout.write(`${formatEvent(e)}\n`);
      if (is(e, "dec.config.planned")) for (const [i, s] of e.data.steps.entries()) process.stdout.write(`  ${i + 1}. ${s.action} ${s.worker}\n`);
      if (is(e, "dec.config.rejected")) process.stderr.write(`vigil: invalid configuration, nothing changed\n${e.data.error}\n`);
    }
  return code;
}

const changeOf = (e: VigilEvent): string | undefined => (is(e, "dec.config.planned") || is(e, "dec.config.rejected") || is(e, "out.config.step") || is(e, "out.config.applied") ? e.data.change : undefined);

/** Re-checks `probe` each time an event arrives, until it returns something or the time is up. */
function until<T>(probe: () => T | undefined, timeoutMs: number, onWake: (w: () => void) => void): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    const check = () => {
      const r = probe();
      if (r !== undefined) {
        clearTimeout(timer);
        resolve(r);
      }
    };
    onWake(check);
    check();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What each service reads from the config besides the shared settings: when it differs after a reload, `vigil up` restarts that service. */
const SERVICE_SETTINGS: Partial<Record<ServiceName, (c: VigilConfig) => unknown>> = {
  decider: (c) => [c.decider, c.policies, c.workers.map((w) => [w.name, w.essential, w.priority, w.restart, w.dependsOn]), c.containers.map((w) => [w.name, w.essential, w.priority, w.restart, w.vnics])],
  health: (c) => [c.health, c.policies, c.workers.map((w) => [w.name, w.probe])],
  gateway: (c) => [c.gateway, c.workers.map((w) => w.name), c.containers.map((w) => w.name)],
  telemetry: (c) => [c.telemetry],
  netmon: (c) => [c.netmon, c.containers],
};

/** Settings only a new `vigil up` applies (the bus, the data dir, the device, the supervisor's own). */
const RESTART_ONLY = (c: VigilConfig) => [c.device, c.dataDir, c.nats, c.stream, c.supervisor, c.fleet, c.docker, c.serviceMemory];

/**
 * `vigil up` on SIGHUP: re-reads and validates the config (a bad one: said, nothing restarted; the
 * supervisor refuses it too, with an event), restarts the services whose own settings changed, and
 * says which changes need a new `vigil up`. The worker changes are the supervisor's (SIGHUP passed on).
 */
export function servicesToRestart(before: VigilConfig, configPath: string, env: NodeJS.ProcessEnv): { after?: VigilConfig; restart: ServiceName[]; needsUp: boolean; error?: string } {
  let after: VigilConfig;
  try {
    after = loadConfig(configPath, env);
  } catch (err) {
    return { restart: [], needsUp: false, error: (err as Error).message };
  }
  const same = (f: (c: VigilConfig) => unknown) => JSON.stringify(f(before)) === JSON.stringify(f(after));
  const restart = (Object.keys(SERVICE_SETTINGS) as ServiceName[]).filter((s) => !same(SERVICE_SETTINGS[s]!));
  return { after, restart, needsUp: !same(RESTART_ONLY) };
}

/** Whether the request `vigil reload` left is a dry run (vigil up then restarts nothing). */
export function isDryRunRequest(dataDir: string): boolean {
  try {
    return JSON.parse(readFileSync(reloadRequestFile(dataDir), "utf8"))?.dryRun === true;
  } catch {
    return false;
  }
}
