import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectBus, ensureStream, isRoutine, loadConfig, logDirs, RotatingLog, tailEvents, type VigilConfig } from "@vigil/events";
import { startSystemdNotify } from "./sd-notify.js";
import { durableRecordFile, findNatsServer, freeBytes, keepEmbeddedNats, storeDurability, withJetStreamLines, type EmbeddedNats } from "./embedded-nats.js";
import { reportStoreDamage } from "./store-damage-report.js";
import { startDurabilityBarrier } from "./durability-barrier.js";
import { formatEvent } from "./format.js";
import { feedLine, upLine, upOutputFormat } from "./up-output.js";
import { consoleBanner } from "./console-info.js";
import { DEMO_CONFIG, runtimeFile, serviceMain, SERVICES, type ServiceName } from "./paths.js";
import { startLocalSink } from "./local-sink.js";
import { domainOf, startUplinkWatch, writeLeafServerConfig } from "./fleet-uplink.js";
import { isDryRunRequest, servicesToRestart } from "./reload.js";
import { authorizationBlock, busUsers, credentialEnv, plainServerConfig, writeCredentials, type BusUser } from "./bus-auth.js";
import { Kvm } from "@nats-io/kv";
import { ADMIN_USER, DECIDER_BUCKET, startHeapCompaction } from "@vigil/events";
import { journalTee } from "./journal-tee.js";
import { serviceMemoryEnv, serviceNodeArgs } from "./service-memory.js";

export interface UpOptions {
  config?: string;
  dataDir?: string;
  natsUrl?: string;
  port: number;
  quiet: boolean;
  /** The live feed also prints heartbeats and health samples. */
  all?: boolean;
}

interface ManagedService {
  name: ServiceName;
  child?: ChildProcess;
  restarts: number;
  stopping: boolean;
}

/** Text in a terminal or a pipe, JSON lines under journald (up-output.ts, docs/unattended.md). */
const OUTPUT = upOutputFormat(process.env);
const say = (msg: string) => process.stdout.write(upLine(OUTPUT, msg));

/**
 * Runs Vigil on this machine: an embedded nats-server (unless a URL is given), each service as its
 * own process (restarted if it dies), and a live feed of events. Ctrl-C stops it all cleanly.
 */
/** A Ctrl-C or SIGTERM that arrives while `vigil up` is still starting: acted on once it can stop cleanly. */
let earlySignal: string | undefined;
const noteEarly = (sig: string) => () => {
  if (earlySignal) process.exit(130); // a second one: the user means it
  earlySignal = sig;
};

export async function up(o: UpOptions): Promise<number> {
  process.on("SIGINT", noteEarly("SIGINT"));
  process.on("SIGTERM", noteEarly("SIGTERM"));
  const configPath = o.config ?? process.env.VIGIL_CONFIG ?? (existsSync("vigil.yaml") ? "vigil.yaml" : DEMO_CONFIG);
  process.on("SIGHUP", () => say("SIGHUP while starting: ignored (reload once running)")); // Node's default would end vigil up
  const isDemo = resolve(configPath) === DEMO_CONFIG;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The bundled demo keeps its data in ./.vigil of wherever vigil up runs.
  if (o.dataDir) env.VIGIL_DATA_DIR = resolve(o.dataDir);
  else if (isDemo && !env.VIGIL_DATA_DIR) env.VIGIL_DATA_DIR = resolve(".vigil");
  const natsUrl = o.natsUrl ?? env.VIGIL_NATS_URL;
  if (natsUrl) env.VIGIL_NATS_URL = natsUrl;
  let config: VigilConfig = loadConfig(configPath, env); // a ConfigError ends here with exit 2
  // vigil up's own process too, when started with --expose-gc (the unit vigil install writes): silent otherwise.
  startHeapCompaction(config.serviceMemory.compactEverySeconds * 1000);
  say(`config ${resolve(configPath)}${isDemo ? " (the bundled demo)" : ""}; device ${config.device}; data in ${config.dataDir}`);
  mkdirSync(config.dataDir, { recursive: true });
  keepSecretsOutOfSharedEnv(env, config.dataDir);

  let nats: EmbeddedNats | undefined;
  let users: BusUser[] | undefined;
  if (!natsUrl) {
    const { bin, version } = findNatsServer(env);
    // Least privilege (docs/security.md): one user per service, fresh passwords at every start, in 0600 files.
    users = busUsers(config, SERVICES);
    writeCredentials(config.dataDir, users);
    const auth = authorizationBlock(users);
    // fleet: a generated config runs JetStream in the device's domain as a leaf node of the hub (docs/fleet.md).
    const leaf = config.fleet ? await writeLeafServerConfig(config, o.port, auth) : undefined;
    const configFile = leaf?.file ?? join(config.dataDir, "nats-server.conf");
    if (!leaf) writeFileSync(configFile, plainServerConfig({ device: config.device, port: o.port, storeDir: join(config.dataDir, "nats"), users }), { mode: 0o600 });
    // Durability on a power cut (docs/durability.md): what the server's own config can add to vigil up's barrier.
    const durability = storeDurability(version, { freeBytes: freeBytes(config.dataDir), streamMaxBytes: config.stream.maxBytes, env });
    writeFileSync(configFile, withJetStreamLines(readFileSync(configFile, "utf8"), durability.lines), { mode: 0o600 });
    chmodSync(configFile, 0o600);
    say(`store durability: ${durability.summary}`);
    nats = await keepEmbeddedNats(bin, { port: o.port, dataDir: config.dataDir, name: `vigil-${config.device}`, configFile, monitorPort: leaf?.monitorPort }, say);
    if (leaf && config.fleet) say(`fleet: leaf node of ${config.fleet.hub.join(", ")} in JetStream domain ${domainOf(config.device, config.fleet)} (config ${leaf.file})`);
    env.VIGIL_NATS_URL = nats.url;
    // Credentials given for some other server mean nothing to this one: each service gets its own below.
    for (const k of ["VIGIL_NATS_USER", "VIGIL_NATS_PASS", "VIGIL_NATS_TOKEN", "VIGIL_NATS_INBOX_PREFIX"]) delete env[k];
    config = loadConfig(configPath, env);
    const admin = users.find((u) => u.user === ADMIN_USER)!;
    config = { ...config, nats: { url: config.nats.url, user: admin.user, pass: admin.pass } };
    say(`started ${version} (JetStream, store ${join(config.dataDir, "nats")}) at ${nats.url}`);
  } else {
    say(`using the NATS server at ${natsUrl}`);
    if (config.fleet) say("fleet: ignored — vigil up did not start this server; configure its leafnodes and jetstream domain yourself (docs/fleet.md)");
  }

  try {
    return await run(o, config, configPath, env, nats, users);
  } catch (err) {
    await nats?.stop(); // never leave the embedded server behind
    throw err;
  }
}

/**
 * The environment every service inherits holds no secret (docs/security.md, "Where each secret goes"):
 * a telemetry secret given to vigil up (VIGIL_TELEMETRY_SECRET) moves into <dataDir>/telemetry.secret
 * (0600) and the services get its path, which only telemetry reads; VIGIL_TOKEN is the CLI's, no service's.
 */
function keepSecretsOutOfSharedEnv(env: NodeJS.ProcessEnv, dataDir: string): void {
  const secret = env.VIGIL_TELEMETRY_SECRET;
  delete env.VIGIL_TELEMETRY_SECRET;
  delete env.VIGIL_TOKEN;
  if (!secret) return;
  const file = join(dataDir, "telemetry.secret");
  writeFileSync(file, secret, { mode: 0o600 });
  chmodSync(file, 0o600); // an older file keeps its mode through writeFileSync
  env.VIGIL_TELEMETRY_SECRET_FILE = file;
}

async function run(o: UpOptions, config: VigilConfig, configPath: string, env: NodeJS.ProcessEnv, nats: EmbeddedNats | undefined, users?: BusUser[]): Promise<number> {
  const nc = await connectBus(config.nats, "vigil-up", { waitOnFirstConnect: false });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await ensureStream(jsm, config.stream);
  // The barrier needs the store on this machine: only for the server vigil up runs. Its services then
  // keep each event in their outbox until a barrier covers it (VIGIL_DURABILITY=barrier, publisher.ts).
  // VIGIL_DURABILITY=off: today's 2.9 behaviour (no barrier), for measurements and the power-cut baseline.
  const barrier = nats && env.VIGIL_DURABILITY !== "off"
    ? startDurabilityBarrier(nc, jsm, { storeDir: join(config.dataDir, "nats"), stream: config.stream.name, device: config.device, say, recreate: () => ensureStream(jsm, config.stream), recordFile: durableRecordFile(config.dataDir) })
    : undefined;
  if (barrier) env.VIGIL_DURABILITY = "barrier";
  else delete env.VIGIL_DURABILITY;
  // A torn store block found before the server started (a power cut): said, and recorded as sys.store.damaged.
  await reportStoreDamage(nc, config, nats?.damage ?? [], !!barrier, say);
  // Set up by admin, so that no service needs the right to create streams.
  if (users) await new Kvm(nc).create(DECIDER_BUCKET, { history: 1 });
  env.VIGIL_CONFIG = resolve(configPath);
  const uplink = config.fleet && nats?.monitorUrl && nats.logFile ? await startUplinkWatch(nc, config, { monitorUrl: nats.monitorUrl, logFile: nats.logFile }, say) : undefined;

  const logDir = join(config.dataDir, "logs");
  mkdirSync(logDir, { recursive: true });
  // VIGIL_UP_SERVICES=supervisor,health: run only these (tests and debugging, e.g. a decider run by hand).
  const only = env.VIGIL_UP_SERVICES?.split(",").map((x) => x.trim()).filter(Boolean);
  const unknown = only?.filter((n) => !(SERVICES as readonly string[]).includes(n));
  if (unknown?.length) throw new Error(`VIGIL_UP_SERVICES names unknown services: ${unknown.join(", ")} (known: ${SERVICES.join(", ")})`);
  const services: ManagedService[] = SERVICES.filter((name) => !only || only.includes(name)).map((name) => ({ name, restarts: 0, stopping: false }));
  let shuttingDown = false;

  // Bounded service logs (logs:, docs/unattended.md): vigil up drains each service's pipes into a size-rotated file.
  const serviceLogs = new Map<string, RotatingLog>();
  const serviceLog = (name: string): RotatingLog => {
    const file = join(logDir, `${name}.log`);
    const l = config.logs;
    const made = serviceLogs.get(name) ?? new RotatingLog({ file, maxFileBytes: l.maxFileBytes, keepFiles: l.keepFiles, maxTotalBytes: l.maxTotalBytes, capDirs: Object.values(logDirs(config.dataDir)), tailLines: 0,
      onProblem: (p) => say(p.state === "failing" ? `cannot write ${file} (${p.error}): service ${name}'s log lines are dropped and counted until it works again` : `${file} is written again (${p.droppedLines} lines dropped meanwhile)`) });
    serviceLogs.set(name, made);
    return made;
  };

  function launch(s: ManagedService): void {
    const out = serviceLog(s.name);
    // Own process group, so a Ctrl-C reaches only vigil up, which then stops services in order; the IPC
    // channel tells a service when vigil up is gone (even after kill -9), so none is left behind.
    // Bounded V8 heap and malloc arenas (serviceMemory:, service-memory.ts): what a device running for months needs.
    const mem = config.serviceMemory;
    const senv = serviceEnv(s.name);
    const child = spawn(process.execPath, [...serviceNodeArgs(mem, s.name), serviceMain(s.name)], { env: { ...senv, ...serviceMemoryEnv(mem, senv) }, stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true });
    // Under journald the important lines also go to the journal (journal-tee.ts); in a terminal the files are enough.
    const tee = () => (OUTPUT === "json" ? journalTee(s.name, config.logs.journalLevel, (l) => process.stdout.write(l)) : undefined);
    const [outTee, errTee] = [tee(), tee()]; // one per pipe: a line's halves must not meet another pipe's
    child.stdout?.on("data", (b: Buffer) => (out.write(b), outTee?.(b)));
    child.stderr?.on("data", (b: Buffer) => (out.write(b), errTee?.(b)));
    s.child = child;
    child.once("exit", (code, signal) => {
      if (s.stopping || shuttingDown) return;
      s.restarts++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(s.restarts - 1, 6));
      say(`service ${s.name} died (${signal ?? `code ${code}`}); restarting it in ${delay} ms — log: ${join(logDir, `${s.name}.log`)}`);
      if (code === 2) {
        say(`service ${s.name} refused its configuration; see its log`);
      }
      setTimeout(() => !shuttingDown && launch(s), delay);
    });
  }
  const consoleLine = SERVICES.includes("gateway" as ServiceName) ? consoleBanner(config, { tty: process.stdout.isTTY === true }) : undefined;
  // The demo's cloud (packages/sink), unless telemetry.url names a real one; telemetry is pointed at it.
  const sink = await startLocalSink(config, env, logDir);
  if (sink) say(`local cloud sink at ${sink.url} (counts: ${sink.url.replace("/v1/events", "/counts")}); telemetry forwards to it`);
  // Each service gets its own bus user, and only telemetry is told where the sink and its secret are.
  const serviceEnv = (name: string): NodeJS.ProcessEnv => {
    const u = users?.find((x) => x.user === name);
    const own: NodeJS.ProcessEnv = name === "telemetry" && sink ? { VIGIL_TELEMETRY_URL: sink.url, VIGIL_TELEMETRY_SECRET_FILE: sink.secretFile } : {};
    // Admin set the stream up above; a service's own user may only wait for it.
    return u ? { ...env, ...own, ...credentialEnv(u), VIGIL_STREAM_SETUP: "wait" } : { ...env, ...own };
  };
  // Only vigil up speaks to systemd (sd-notify.ts): no service may claim to be it.
  for (const k of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete env[k];
  const launchedAt = new Date();
  for (const s of services) launch(s);
  say(`services: ${services.map((s) => `${s.name} (pid ${s.child?.pid})`).join(", ")}; logs in ${logDir}`);
  /** A service whose settings changed on a reload: stopped and started again at once (its exit is not a crash). */
  function restartService(s: ManagedService): void {
    const c = s.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return launch(s);
    s.stopping = true;
    c.once("exit", () => {
      s.stopping = false;
      if (!shuttingDown) launch(s);
    });
    c.kill("SIGTERM");
  }

  writeFileSync(runtimeFile(config.dataDir), JSON.stringify({ natsUrl: config.nats.url, device: config.device, pid: process.pid, configPath: resolve(configPath), startedAt: new Date().toISOString() }, null, 2));

  // The live feed: what happens from now on, one line per event (heartbeats and health samples only with --all).
  const feed = o.quiet
    ? undefined
    : await tailEvents(nc, { stream: config.stream.name, filter: `vigil.${config.device}.>`, from: "new" }, (e) => {
        if (o.all || !isRoutine(e)) process.stdout.write(feedLine(OUTPUT, formatEvent(e), e));
      });

  const alive = (c?: ChildProcess) => !!c && c.exitCode === null && c.signalCode === null;
  const systemd = await startSystemdNotify(process.env, { nc, stream: config.stream.name, device: config.device, say, since: launchedAt,
    services: () => services.map((s) => ({ name: s.name, alive: alive(s.child) })),
    workers: only && !only.includes("supervisor") ? [] : [...config.workers, ...config.containers].map((w) => w.name) });

  return new Promise<number>((resolveExit) => {
    const shutdown = async (sig: string) => {
      if (shuttingDown) {
        say(`second ${sig}: killing everything now`);
        for (const s of services) s.child?.kill("SIGKILL");
        nats?.child.kill("SIGKILL");
        process.exit(1);
      }
      shuttingDown = true;
      systemd?.stopping();
      say(`${sig}: stopping services (workers first, then the bus)`);
      // Reverse start order: the supervisor stops its workers while the decider can still see it happen.
      for (const s of [...services].reverse()) {
        s.stopping = true;
        const c = s.child;
        if (!c || c.exitCode !== null || c.signalCode !== null) continue;
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            say(`${s.name} did not stop in 15 s; killing it`);
            c.kill("SIGKILL");
          }, 15_000);
          c.once("exit", () => {
            clearTimeout(t);
            r();
          });
          c.kill("SIGTERM");
        });
      }
      await feed?.stop();
      await systemd?.close();
      await Promise.all([...serviceLogs.values()].map((l) => l.close()));
      // A last barrier, so what the services published last is on disk before the server stops.
      await barrier?.sync();
      await barrier?.stop();
      await uplink?.stop();
      await sink?.stop();
      await nc.close().catch(() => undefined);
      if (nats) await nats.stop();
      rmSync(runtimeFile(config.dataDir), { force: true });
      say("stopped");
      resolveExit(0);
    };
    process.removeAllListeners("SIGINT").removeAllListeners("SIGTERM");
    process.on("SIGINT", () => void shutdown("SIGINT"));
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    // SIGHUP (vigil reload): services whose own settings changed restart; the workers are the supervisor's (docs/reload.md).
    let applied = loadConfig(resolve(configPath), env);
    process.removeAllListeners("SIGHUP").on("SIGHUP", () => {
      if (shuttingDown) return;
      const dryRun = isDryRunRequest(config.dataDir);
      const r = servicesToRestart(applied, resolve(configPath), env);
      if (r.error) say(`reload: invalid configuration, nothing changed:\n${r.error}`);
      else if (!dryRun && r.after) {
        applied = r.after;
        for (const s of services.filter((x) => r.restart.includes(x.name))) restartService(s);
        say(`reload: ${r.restart.length ? `restarting ${r.restart.join(", ")} (their settings changed)` : "no service settings changed"}; workers: the supervisor plans the change`);
        if (r.needsUp) say("reload: device, nats, stream, dataDir, supervisor, fleet, docker or serviceMemory settings changed: they apply at the next vigil up");
      }
      services.find((s) => s.name === "supervisor")?.child?.kill("SIGHUP");
    });
    if (earlySignal) return void shutdown(earlySignal);
    // Said only once the handlers are in place: whoever waits for "running" may stop us right away.
    if (consoleLine) say(consoleLine);
    // The embedded server wants a user: the admin's, from its 0600 file (never printed).
    const natsAuth = users ? ` --user ${ADMIN_USER} --password "$(node -p 'require(process.argv[1]).pass' ${join(config.dataDir, "creds", `${ADMIN_USER}.json`)})"` : "";
    say(`running. Watch: nats sub --server ${config.nats.url}${natsAuth} 'vigil.>'   Status: vigil status   Stop: Ctrl-C`);
  });
}
