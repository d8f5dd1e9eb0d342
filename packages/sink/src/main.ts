#!/usr/bin/env node
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { startSink } from "./server.js";

const USAGE = `vigil-sink — a local cloud sink for Vigil telemetry

Receives signed CloudEvents batches (POST /v1/events, application/cloudevents-batch+json, gzip or not),
verifies the HMAC-SHA256 signature, validates every event, stores each event id once (level) and counts.

  vigil-sink [--port N] [--host H] [--data-dir DIR] [--secret S] [--faults]

  -p, --port       port to listen on (0: a free one; env VIGIL_SINK_PORT; default 8787)
      --host       address to bind (env VIGIL_SINK_HOST; default 127.0.0.1)
  -d, --data-dir   where the store lives (env VIGIL_SINK_DATA_DIR; default ./.vigil-sink)
  -s, --secret     the shared secret (env VIGIL_SINK_SECRET; required, ≥ 16 characters)
      --faults     allow POST /faults (fault injection for tests and demos; env VIGIL_SINK_FAULTS=1)
      --delivery-log  keep every delivery in memory: GET /deliveries (per id: deliveries, first time),
                   DELETE /deliveries resets it (tests and benchmarks; env VIGIL_SINK_DELIVERY_LOG=1)
      --tls-cert, --tls-key, --tls-ca   serve HTTPS; with a CA, require client certificates (mTLS)
  -h, --help       this text

Endpoints: POST /v1/events, GET /counts, GET|DELETE /deliveries, GET /events?after=N&limit=M, GET|POST|DELETE /faults, GET /health.
Prints one JSON line {"url": …} on stdout when listening. SIGTERM/SIGINT close it cleanly.
`;

function fail(msg: string): never {
  process.stderr.write(`vigil-sink: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string", short: "p" },
        host: { type: "string" },
        "data-dir": { type: "string", short: "d" },
        secret: { type: "string", short: "s" },
        faults: { type: "boolean" },
        "delivery-log": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-ca": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const portText = values.port ?? process.env.VIGIL_SINK_PORT ?? "8787";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be an integer 0..65535, got "${portText}"`);
  const secret = values.secret ?? process.env.VIGIL_SINK_SECRET;
  if (!secret) fail("a secret is required (--secret or VIGIL_SINK_SECRET)");
  if (secret.length < 16) fail("the secret must be at least 16 characters");
  if (!!values["tls-cert"] !== !!values["tls-key"]) fail("--tls-cert and --tls-key go together");
  const log = (msg: string, fields: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), service: "sink", msg, ...fields })}\n`);
  const sink = await startSink({
    port,
    host: values.host ?? process.env.VIGIL_SINK_HOST ?? "127.0.0.1",
    dataDir: resolve(values["data-dir"] ?? process.env.VIGIL_SINK_DATA_DIR ?? ".vigil-sink"),
    secret,
    allowFaults: values.faults ?? process.env.VIGIL_SINK_FAULTS === "1",
    deliveryLog: values["delivery-log"] ?? process.env.VIGIL_SINK_DELIVERY_LOG === "1",
    ...(values["tls-cert"] && values["tls-key"] ? { tls: { cert: values["tls-cert"], key: values["tls-key"], ...(values["tls-ca"] ? { ca: values["tls-ca"] } : {}) } } : {}),
    log,
  });
  process.stdout.write(`${JSON.stringify({ url: sink.url, port: sink.port })}\n`);
  log("listening", { url: sink.url, counts: sink.counts() });
  let closing = false;
  const stop = (sig: string) => {
    if (closing) process.exit(1);
    closing = true;
    log("stopping", { signal: sig, counts: sink.counts() });
    sink.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (process.channel) {
    process.on("disconnect", () => stop("disconnect"));
    process.channel.unref();
  }
}

main().catch((err) => {
  process.stderr.write(`vigil-sink: ${(err as Error).message}\n`);
  process.exit(1);
});
