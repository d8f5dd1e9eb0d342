#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConfigError, VERSION } from "@vigil/events";
import { UsageError } from "./embedded-nats.js";
import { events } from "./events.js";
import { status } from "./status.js";
import { up } from "./up.js";

const HELP = `vigil ${VERSION} — a self-healing runtime for edge gateways

Usage: vigil <command> [options]

Commands:
  up         Run Vigil on this machine: an embedded nats-server, every service, the workers in
             vigil.yaml (or the bundled demo when there is none). Ctrl-C stops it all.
  status     Each worker's state, pid and restarts, and the open incidents.
  events     Print stored events (then live ones with --follow).
  help       This text.

Options:
  -c, --config <file>    Config file (default: $VIGIL_CONFIG, else ./vigil.yaml, else the demo for 'up')
      --nats-url <url>   Use this NATS server instead of starting one (default: $VIGIL_NATS_URL)
      --data-dir <dir>   Where state, logs and the embedded server's store go (up)
  -p, --port <n>         Port of the embedded nats-server (up; default 4222)
  -q, --quiet            No live event feed (up)
      --json             Machine-readable output (status, events)
      --since <when>     events: from 30s, 10m, 2h, 1d ago, or an ISO time
      --seq <n>          events: from this stream sequence
      --filter <subject> events: a NATS subject filter (default vigil.<device>.>)
  -f, --follow           events: keep printing new events
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
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}" for '${command}'. Run 'vigil help' for usage.`);
  const target = { config: v.config, natsUrl: v["nats-url"] };
  switch (command) {
    case "up": {
      const port = v.port === undefined ? 4222 : Number(v.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port "${v.port}": a port is a whole number from 1 to 65535`);
      return up({ ...target, dataDir: v["data-dir"], port, quiet: v.quiet });
    }
    case "status":
      return status({ ...target, json: v.json });
    case "events":
      return events({ ...target, since: v.since, seq: v.seq, filter: v.filter, follow: v.follow, json: v.json });
    default:
      throw new UsageError(`unknown command "${command}". Commands: up, status, events, help.`);
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
