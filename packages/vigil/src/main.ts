#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConfigError, VERSION } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { events } from "./events.js";
import { status } from "./status.js";
import { up } from "./up.js";
import { workerCommand, WORKER_COMMANDS, type WorkerCommand } from "./command.js";
import { ackIncident } from "./ack.js";
import { replayIncident } from "./replay.js";
import { token } from "./token.js";
import { fleet } from "./fleet.js";
import { busAuth } from "./bus-auth-cmd.js";
import { incidents, workers } from "./workers.js";
import { install, uninstall } from "./install.js";
import { logs } from "./logs.js";
import { alertsCommand } from "./alerts-cmd.js";
import { reload } from "./reload.js";

const HELP = `vigil ${VERSION} — a self-healing runtime for edge gateways

Usage: vigil <command> [options]

Commands:
  up         Run Vigil on this machine: an embedded nats-server, every service, the workers in
             vigil.yaml (or the bundled demo when there is none). Ctrl-C stops it all.
  status     Each worker's state, pid and restarts, and the open incidents.
  events     Print stored events (then live ones with --follow).
  workers    Each worker's state, pid, restarts and incident (through the gateway).
  incidents  Open and recent incidents (through the gateway).
  replay <incident> [--speed N] [--decide]
             An incident's events in order (in time with --speed); --decide re-runs the current
             decider over the recorded history and shows where its decisions differ.
  restart|pause|resume|kill|start|stop <worker>
             Send a command to a declared worker through the gateway and print the outcome. A worker
             stopped with 'vigil stop' stays stopped (crashes, reloads, restarts) until 'vigil start'.
  ack <incident> [--reason text]
             Acknowledge an open or escalated incident (operator token, through the gateway): the
             decider closes it; a worker in cool-down (restart.coolDownMs) keeps being retried.
  reload [--dry-run]
             Re-read and validate vigil.yaml of the running 'vigil up' (a bad one changes nothing:
             exit 2, naming the field), then apply only what changed: start added workers, stop
             removed ones, restart changed ones, in dependency order; --dry-run prints the plan only.
  token hash <token> | token new [--name N] [--role viewer|operator]
             The SHA-256 to put in gateway.tokens, or a new random token with its config entry.
  fleet add|remove <device>… | fleet list | fleet status [<device>…]  (--hub URL or $VIGIL_FLEET_URL)
  fleet hub-auth <device>… [--out DIR]  one hub user per device + the operator (DIR/hub-users.conf, DIR/<user>.json; default fleet-auth)
  fleet keygen [--out FILE] | fleet deploy FILE --to dev-1,dev-2|--select k=v --key KEY [--canary N --then 25% …]
  fleet deployments | fleet restart|stop|start|pause|resume <device> <worker> --key KEY | fleet logs <device> <worker> [--lines N] | fleet state <device>
             On the cloud hub: the VIGIL_FLEET stream sourcing each device's VIGIL through its
             JetStream domain; status shows lag, last event, last heartbeat, open incidents.
  bus-auth [--out <dir>]
             Per-service NATS users for a server you run yourself (compose.auth.yaml): its config and
             one env file per service, mode 0600 (default dir deploy/bus; docs/security.md).
  install [--prefix DIR] [--dry-run] [--user NAME|root] [--watchdog-sec N]
             Vigil as a systemd service (Type=notify, watchdog, hardening): the unit, /etc/vigil/vigil.yaml
             (a starter when there is none), /var/lib/vigil, the system user vigil; then enables and
             starts it. --prefix/--dry-run only write the files there (docs/unattended.md).
  uninstall [--prefix DIR] [--dry-run] [--purge]
             Stops and removes the unit (config and data stay unless --purge).
  logs <worker|service> [-f] [--since 10m] [--lines N]
             A worker's output or a service's log from the data dir (bounded, rotated: logs: in the config).
  alerts test [--name <target>]
             Sends one signed test alert to each webhook in alerts.targets (or the one named).
  help       This text.

Options:
  -c, --config <file>    Config file (default: $VIGIL_CONFIG, else ./vigil.yaml, else the demo for 'up')
      --nats-url <url>   Use this NATS server instead of starting one (default: $VIGIL_NATS_URL)
      --data-dir <dir>   Where state, logs and the embedded server's store go (up); every other command
                         finds the running system there: its config, NATS address, credentials, token
  -p, --port <n>         Port of the embedded nats-server (up; default 4222)
  -q, --quiet            No live event feed (up)
      --json             Machine-readable output (status, events)
      --all              events, up's feed: also heartbeats and health samples (hidden by default)
      --since <when>     events: from 30s, 10m, 2h, 1d ago, or an ISO time
      --seq <n>          events: from this stream sequence
      --filter <subject> events: a NATS subject filter (default vigil.<device>.>)
  -f, --follow           events: keep printing new events
      --gateway <url>    The gateway (default: $VIGIL_GATEWAY_URL, else the running one's address, else
                         http://127.0.0.1:8080)
      --token <token>    Gateway token (default: $VIGIL_TOKEN, else the local operator token of 'vigil up')
      --speed <n>        replay: play back n times faster than it happened (default 0: at once)
      --decide           replay: re-decide with the current decider and show the differences
      --reason <text>    restart|pause|resume|kill|start|stop: recorded with the command
      --dry-run          reload: print the plan, change nothing
      --hub <url>        fleet: the hub's NATS URL (default: $VIGIL_FLEET_URL)
      --stream <name>    fleet: the fleet stream (default VIGIL_FLEET)
      --out <dir>        bus-auth: where to write (default deploy/bus); fleet hub-auth: the folder (default
                         fleet-auth); fleet keygen: the key file (default operator.key)
      --prefix <dir>     install|uninstall: write the files under <dir> (nothing else is changed)
      --dry-run          install|uninstall: write the files only (no user, no systemctl)
      --user <name>      install: the system user to run as (default vigil; root: none)
      --watchdog-sec <n> install: WatchdogSec of the unit (default 60)
      --purge            uninstall: also remove /etc/vigil/vigil.yaml and /var/lib/vigil
      --lines <n>        logs: the last n lines (default 100); --since and -f work as for events
  -h, --help             This text.
  -v, --version          The version.

Exit codes: 0 ok, 1 runtime error (e.g. NATS unreachable), 2 bad usage or configuration.
Watch the bus directly: nats sub 'vigil.>'   ·   nats stream view VIGIL`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        "nats-url": { type: "string" },
        "data-dir": { type: "string" },
        port: { type: "string", short: "p" },
        quiet: { type: "boolean", short: "q", default: false },
        json: { type: "boolean", default: false },
        since: { type: "string" },
        seq: { type: "string" },
        filter: { type: "string" },
        follow: { type: "boolean", short: "f", default: false },
        all: { type: "boolean", default: false },
        gateway: { type: "string" },
        token: { type: "string" },
        speed: { type: "string" },
        decide: { type: "boolean", default: false },
        reason: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        name: { type: "string" },
        role: { type: "string" },
        hub: { type: "string" },
        stream: { type: "string" },
        out: { type: "string" },
        prefix: { type: "string" },
        user: { type: "string" },
        "watchdog-sec": { type: "string" },
        purge: { type: "boolean", default: false },
        lines: { type: "string" },
        to: { type: "string" },
        select: { type: "string" },
        key: { type: "string" },
        canary: { type: "string" },
        then: { type: "string", multiple: true },
        wait: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun 'vigil help' for usage.`);
  }
  const { values: v, positionals } = parsed;
  const [command = "help", ...rest] = positionals;
  if (v.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (v.help || command === "help") {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  // Console commands (they take arguments and talk to the gateway).
  const gwTarget = { config: v.config, dataDir: v["data-dir"], gateway: v.gateway, token: v.token, json: v.json };
  if (command === "token") return token(rest, { name: v.name, role: v.role, json: v.json });
  if (command === "fleet") return fleet(rest, { hub: v.hub, stream: v.stream, json: v.json, deploy: { to: v.to, select: v.select, key: v.key, canary: v.canary, then: v.then, wait: v.wait, out: v.out, lines: v.lines } });
  if (command === "alerts") return alertsCommand(rest, { config: v.config, dataDir: v["data-dir"], name: v.name, json: v.json });
  if (command === "logs") {
    if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}" for 'logs'. Run 'vigil help' for usage.`);
    return logs(rest[0], { config: v.config, dataDir: v["data-dir"], follow: v.follow, since: v.since, lines: v.lines, json: v.json });
  }
  if (command === "ack") {
    if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}" for 'ack'. Run 'vigil help' for usage.`);
    return ackIncident(rest[0], { ...gwTarget, reason: v.reason });
  }
  if ((WORKER_COMMANDS as readonly string[]).includes(command) || command === "replay") {
    if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}" for '${command}'. Run 'vigil help' for usage.`);
    if (command === "replay") {
      const speed = v.speed === undefined ? 0 : Number(v.speed);
      if (!Number.isFinite(speed)) throw new UsageError(`--speed "${v.speed}": a number (0 for at once)`);
      return replayIncident(rest[0], { ...gwTarget, decide: v.decide, speed });
    }
    return workerCommand(command as WorkerCommand, rest[0], { ...gwTarget, reason: v.reason });
  }
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}" for '${command}'. Run 'vigil help' for usage.`);
  const target = { config: v.config, dataDir: v["data-dir"], natsUrl: v["nats-url"] };
  switch (command) {
    case "up": {
      const port = v.port === undefined ? 4222 : Number(v.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port "${v.port}": a port is a whole number from 1 to 65535`);
      return up({ ...target, port, quiet: v.quiet, all: v.all });
    }
    case "status":
      return status({ ...target, json: v.json });
    case "bus-auth":
      return busAuth({ config: v.config, out: v.out });
    case "events":
      return events({ ...target, since: v.since, seq: v.seq, filter: v.filter, follow: v.follow, all: v.all, json: v.json });
    case "reload":
      return reload({ ...target, dryRun: v["dry-run"], json: v.json });
    case "install": {
      const watchdogSec = v["watchdog-sec"] === undefined ? 60 : Number(v["watchdog-sec"]);
      if (!Number.isInteger(watchdogSec) || watchdogSec < 5) throw new UsageError(`--watchdog-sec "${v["watchdog-sec"]}": whole seconds, at least 5`);
      return install({ prefix: v.prefix, dryRun: v["dry-run"], user: v.user ?? "vigil", watchdogSec });
    }
    case "uninstall":
      return uninstall({ prefix: v.prefix, dryRun: v["dry-run"], purge: v.purge });
    case "workers":
      return workers(gwTarget);
    case "incidents":
      return incidents(gwTarget);
    default:
      throw new UsageError(`unknown command "${command}". Commands: up, status, events, logs, workers, incidents, replay, ack, restart, pause, resume, kill, start, stop, reload, token, fleet, bus-auth, install, uninstall, alerts, help.`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: invalid configuration\n${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`vigil: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`vigil: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
