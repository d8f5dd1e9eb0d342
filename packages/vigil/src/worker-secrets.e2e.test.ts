import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { connectBus, encodeEvent, is, makeEvent } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";

/** A worker that writes everything it was given: what Node sees and what the kernel holds. */
const DUMP_ENV_SCRIPT = `
const { readFileSync, renameSync, writeFileSync } = require("node:fs");
const proc = readFileSync("/proc/self/environ", "utf8").split("\\0").filter(Boolean);
writeFileSync("env.json.tmp", JSON.stringify({ processEnv: process.env, procEnviron: proc }));
renameSync("env.json.tmp", "env.json");
setInterval(() => undefined, 60_000);
`;

/** KEY=value lines of a NUL-separated environ block. */
const parseEnviron = (lines: string[]): Record<string, string> => Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
const environOf = (pid: number) => parseEnviron(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean));

/** Resolves once `file` exists (it is renamed into place whole), watching its folder instead of polling. */
function waitForFile(file: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = watch(dirname(file), () => {
      if (existsSync(file)) done();
    });
    const t = setTimeout(() => {
      w.close();
      reject(new Error(`${file} did not appear in ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(t);
      w.close();
      resolve();
    };
    if (existsSync(file)) done();
  });
}

/** Runs the attempts a few at a time and returns those that succeeded. */
async function successes<T>(items: T[], attempt: (item: T) => Promise<boolean>, width = 16): Promise<T[]> {
  const won: T[] = [];
  for (let i = 0; i < items.length; i += width) {
    const batch = items.slice(i, i + width);
    const results = await Promise.all(batch.map(attempt));
    batch.forEach((item, j) => results[j] && won.push(item));
  }
  return won;
}

/** True when the server lets the client in with these credentials. */
async function busAccepts(url: string, auth: { user?: string; pass?: string; token?: string }): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, ...auth, maxReconnectAttempts: 0, reconnect: false, timeout: 5_000 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

/** POSTs a batch with one forged event, signed with `key`; the HTTP status. */
async function signedUpload(sinkUrl: string, device: string, key: string): Promise<number> {
  const forged = makeEvent(device, `vigil/${device}/forger`, "obs.worker.started", { worker: "sensor", pid: 1, command: "forged" });
  const body = Buffer.from(`[${Buffer.from(encodeEvent(forged)).toString()}]`);
  const res = await fetch(sinkUrl, {
    method: "POST",
    headers: { "content-type": "application/cloudevents-batch+json", "x-vigil-signature": `sha256=${createHmac("sha256", key).update(body).digest("hex")}`, "x-vigil-device": device },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

describe("vigil up: workers get no secrets, each secret reaches only the process that uses it", () => {
  it("a worker that dumps its environment finds no credential that opens the bus or signs an upload; only telemetry holds the telemetry secret", async () => {
    const device = "ws-1";
    const cfg = writeConfig({
      device,
      // A fixed port, so that the banner would carry the console link with the token (port 0 never does).
      gateway: { port: await freePort() },
      health: { intervalMs: 60_000, anomaly: { enabled: false } },
      workers: [{ name: "sensor", command: "node", args: ["dump-env.js"], restart: { stableMs: 600_000 } }],
    });
    const cfgDir = dirname(cfg);
    writeFileSync(join(cfgDir, "dump-env.js"), DUMP_ENV_SCRIPT);
    // The local sink on (the helper turns it off by default): its secret is what telemetry signs with.
    const vigil = await vigilUpEmbedded(cfg, await freePort(), { VIGIL_SINK: "", VIGIL_TOKEN: "operator-token-in-vigil-ups-own-env" });
    const admin = await connectBus(vigil.nats, "test-admin");
    const events = await watchEvents(admin);
    try {
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 30_000);
      const workerPid = (started.data as { pid: number }).pid;
      const fromKernel = environOf(workerPid);
      const dumpFile = join(cfgDir, "env.json");
      await waitForFile(dumpFile, 30_000);
      const dump = JSON.parse(readFileSync(dumpFile, "utf8")) as { processEnv: Record<string, string>; procEnviron: string[] };
      const seen: Record<string, string> = { ...fromKernel, ...parseEnviron(dump.procEnviron), ...dump.processEnv };

      // Every finding is collected first, so that one run shows all of them (env, bus, sink).
      const leaks: string[] = [];
      // Nothing of Vigil's: no VIGIL_* but the worker's own name, no password of any bus user.
      const vigilVars = Object.keys(seen).filter((k) => k.startsWith("VIGIL_") && k !== "VIGIL_WORKER");
      if (vigilVars.length) leaks.push(`VIGIL_* variables reached the worker: ${vigilVars.join(", ")}`);
      assert.equal(seen.VIGIL_WORKER, "sensor");
      const credFiles = readdirSync(join(vigil.dataDir, "creds")).filter((f) => f.endsWith(".json"));
      const creds = credFiles.map((f) => JSON.parse(readFileSync(join(vigil.dataDir, "creds", f), "utf8")) as { user: string; pass: string });
      assert.ok(creds.length >= 7, `one credential file per service and admin: ${credFiles.join(", ")}`);
      const values = [...new Set(Object.values(seen).filter((v) => v.length > 0))];
      for (const c of creds) if (values.some((v) => v.includes(c.pass))) leaks.push(`${c.user}'s password is in the worker's environment`);
      const sinkSecret = readFileSync(join(vigil.dataDir, "sink.secret"), "utf8").trim();
      if (values.some((v) => v.includes(sinkSecret))) leaks.push("the telemetry secret is in the worker's environment");

      // Every value the worker holds, tried as each user's password and as a token: the bus refuses them all.
      const users = creds.map((c) => c.user);
      const busAttempts = values.flatMap((v) => [...users.map((user) => ({ user, pass: v })), { token: v }]);
      assert.equal(await busAccepts(vigil.natsUrl, {}), false, "the bus lets in a client without credentials");
      const opened = await successes(busAttempts, (a) => busAccepts(vigil.natsUrl, a));
      for (const a of opened) leaks.push(`a value from the worker's environment opened the bus as ${"user" in a ? `user ${a.user}` : "a token"}`);
      // The oracle works: a real password does open it.
      assert.equal(await busAccepts(vigil.natsUrl, { user: creds[0]!.user, pass: creds[0]!.pass }), true);

      // … and no value signs an upload the cloud sink accepts.
      const m = /local cloud sink at (http:\/\/127\.0\.0\.1:\d+\/v1\/events)/.exec(vigil.output());
      assert.ok(m, `vigil up names the sink:\n${vigil.output()}`);
      const sinkUrl = m[1]!;
      const accepted = await successes(values, async (v) => {
        const status = await signedUpload(sinkUrl, device, v);
        return status !== 401 && status !== 403;
      }, 8);
      if (accepted.length) leaks.push(`${accepted.length} value(s) from the worker's environment signed an upload the sink accepted`);
      assert.equal(await signedUpload(sinkUrl, device, sinkSecret), 200, "the oracle works: the real secret signs an accepted upload");
      assert.deepEqual(leaks, [], "what the worker could read and use");

      // vigil up's stdout is a pipe here (as under journald or docker logs): the token is not in it, its file is.
      const token = readFileSync(join(vigil.dataDir, "gateway.token"), "utf8").trim();
      assert.ok(!vigil.output().includes(token), `the console token is in vigil up's output:\n${vigil.output()}`);
      assert.ok(vigil.output().includes(join(vigil.dataDir, "gateway.token")), `the banner names the token file:\n${vigil.output()}`);

      // Each service started by vigil up: its own bus password only, and the telemetry secret only in telemetry.
      const pids = Object.fromEntries([...vigil.output().matchAll(/(\w+) \(pid (\d+)\)/g)].map((x) => [x[1]!, Number(x[2])]));
      for (const service of ["decider", "supervisor", "health", "gateway", "telemetry", "netmon"]) {
        assert.ok(pids[service], `vigil up names ${service}'s pid:\n${vigil.output()}`);
        const env = environOf(pids[service]!);
        const envValues = Object.values(env);
        for (const c of creds.filter((x) => x.user !== service)) assert.ok(!envValues.some((v) => v.includes(c.pass)), `${c.user}'s password is in ${service}'s environment`);
        assert.ok(!envValues.some((v) => v.includes("operator-token-in-vigil-ups-own-env")), `VIGIL_TOKEN reached ${service}`);
        if (service === "telemetry") {
          // Telemetry is told where its secret is: a file only its owner may read.
          const file = env.VIGIL_TELEMETRY_SECRET_FILE;
          assert.ok(file && readFileSync(file, "utf8").trim() === sinkSecret, `telemetry is given the secret's file: ${JSON.stringify(env)}`);
          assert.equal((statSync(file).mode & 0o777).toString(8), "600");
          assert.equal(basename(file), "sink.secret");
        } else {
          assert.ok(!envValues.some((v) => v.includes(sinkSecret)), `the telemetry secret is in ${service}'s environment`);
          assert.ok(!Object.keys(env).some((k) => k.startsWith("VIGIL_TELEMETRY_")), `telemetry's variables reached ${service}`);
        }
      }
      // Telemetry still signs with the secret it read from the file: its uploads are accepted.
      await events.waitFor("telemetry forwarded", (e) => is(e, "sys.telemetry.heartbeat") && (e.data as { forwarded: number }).forwarded > 0, 30_000);
    } finally {
      await events.close();
      await admin.close();
      assert.equal(await vigil.stop(), 0);
    }
  });
});
