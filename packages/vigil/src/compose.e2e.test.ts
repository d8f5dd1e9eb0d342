import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { get } from "node:http";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { connectBus, encodeEvent, is, makeEvent, type VigilEvent } from "@vigil/events";
import { containerState, docker, freePort, removeDeviceContainers, requireDocker, watchEvents } from "@vigil/events/testing";
import { readEnvFile, VIGIL_MAIN } from "./e2e-helpers.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): string {
  const r = spawnSync(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, encoding: "utf8", timeout: timeoutMs });
  if (r.error) throw new Error(`${cmd}: ${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? `not installed (${cmd === "docker-compose" ? "apt-get install docker-compose" : "see scripts/setup.sh"})` : r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** One GET with a timeout (node:http: a half-open proxied connection cannot leave it pending). */
function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** A compose project of the demo profile on free ports with the offline images (built here, once per test). */
async function demoProject(prefix: string, extraFiles: string[] = [], extraEnv: Record<string, string> = {}) {
  requireDocker();
  run("docker-compose", ["version", "--short"]);
  run("bash", ["scripts/build-offline-images.sh"]);
  const project = `vigil${prefix}${randomBytes(3).toString("hex")}`;
  const device = `${prefix}-${randomBytes(3).toString("hex")}`;
  const natsPort = await freePort();
  const gatewayPort = await freePort();
  const env = {
    VIGIL_IMAGE: "vigil:local",
    NATS_IMAGE: "vigil-nats:local",
    NATS_HOST_PORT: String(natsPort),
    VIGIL_GATEWAY_HOST_PORT: String(gatewayPort),
    VIGIL_CONFIG_NAME: "vigil.demo.yaml",
    VIGIL_DEVICE: device,
    ...extraEnv,
  };
  const files = ["-f", "compose.yaml", ...extraFiles.flatMap((f) => ["-f", f]), "--profile", "demo"];
  return {
    device,
    env,
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    compose: (...args: string[]) => run("docker-compose", ["-p", project, ...files, ...args], env),
    /** Waits for the gateway's /healthz to say ok. */
    gatewayHealth: () =>
      until("gateway /healthz", 90_000, async () => {
        const r = await httpGet(`http://127.0.0.1:${gatewayPort}/healthz`);
        return r.status === 200 ? (JSON.parse(r.body) as { ok: boolean; device: string }) : undefined;
      }),
    /** down -v, then checks nothing of the project is left. */
    down: () => {
      spawnSync("docker-compose", ["-p", project, ...files, "down", "-v", "--remove-orphans"], { cwd: REPO, env: { ...process.env, ...env }, stdio: "ignore" });
      removeDeviceContainers(device);
      assert.equal(docker("ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`), "", "compose down removed its containers");
    },
  };
}

describe("compose.yaml with the offline images (real Docker engine, docker-compose v1)", () => {
  it("docker-compose --profile demo up -d → the gateway answers /healthz and a killed demo workload comes back through Vigil; down -v cleans up", async () => {
    const { device, natsUrl, compose, gatewayHealth, down } = await demoProject("cmp");
    try {
      compose("up", "-d");
      const health = await gatewayHealth();
      assert.deepEqual([health.ok, health.device], [true, device]);

      const nc = await connectBus({ url: natsUrl }, "test");
      const events = await watchEvents(nc);
      try {
        const started = await events.waitFor("demo started", (e) => is(e, "obs.worker.started") && (e.data as { worker: string }).worker === "demo", 60_000);
        const cid = (started.data as { containerId: string }).containerId;
        assert.equal(containerState(cid).Running, true);
        const t0 = performance.now();
        docker("kill", cid);
        const restarted = await events.waitFor("demo restarted", (e) => is(e, "out.worker.restarted"), 30_000);
        const ms = performance.now() - t0;
        const exited = events.events.find((e: VigilEvent) => is(e, "obs.worker.exited") && !(e.data as { expected: boolean }).expected)!;
        assert.equal(restarted.incident, exited.incident, "one incident from exit to outcome");
        assert.equal(containerState(cid).Running, true, `running again after ${Math.round(ms)} ms`);
        // Every service came up and announced itself on the bus.
        for (const s of ["decider", "supervisor", "health", "gateway", "telemetry", "netmon"]) await events.waitFor(`${s} started`, (e) => is(e, "sys.service.started") && (e.data as { service: string }).service === s, 30_000);
      } finally {
        await events.close();
        await nc.close();
      }
    } finally {
      down();
    }
  });
});

describe("compose.yaml + compose.auth.yaml: one NATS user per service (real Docker engine, docker-compose v1)", () => {
  it("vigil bus-auth, then up: no credentials → refused; health's user cannot publish a command; the services heal a killed workload on their own users", async () => {
    const busDir = mkdtempSync(join(tmpdir(), "vigil-compose-bus-"));
    const { device, env, natsUrl: url, compose, gatewayHealth, down } = await demoProject("cmpa", ["compose.auth.yaml"], { VIGIL_BUS_DIR: busDir });
    try {
      const wrote = run(process.execPath, [VIGIL_MAIN, "bus-auth", "--config", "deploy/vigil.demo.yaml", "--out", busDir], env);
      assert.match(wrote, new RegExp(`for device ${device}`));
      compose("up", "-d");
      const health = await gatewayHealth();
      assert.deepEqual([health.ok, health.device], [true, device]);
      await assert.rejects(connect({ servers: url, maxReconnectAttempts: 0, timeout: 3_000 }), /authorization violation/i, "no credentials, no connection");

      const admin = readEnvFile(join(busDir, "admin.env"));
      const nc = await connectBus({ url, user: admin.VIGIL_NATS_USER, pass: admin.VIGIL_NATS_PASS }, "test-admin");
      const h = readEnvFile(join(busDir, "health.env"));
      const asHealth = await connect({ servers: url, user: h.VIGIL_NATS_USER, pass: h.VIGIL_NATS_PASS, inboxPrefix: h.VIGIL_NATS_INBOX_PREFIX, name: "forger", maxReconnectAttempts: 0 });
      const events = await watchEvents(nc);
      try {
        const forged = makeEvent(device, `vigil/${device}/health`, "cmd.worker.restart", { worker: "demo", delayMs: 0, reason: "forged by health", requestedBy: "health" });
        await assert.rejects(jetstream(asHealth).publish(forged.subject, encodeEvent(forged), { msgID: forged.id }), (err: Error & { cause?: Error }) => {
          assert.match((err.cause ?? err).message, /permissions violation/i);
          return true;
        });

        const started = await events.waitFor("demo started", (e) => is(e, "obs.worker.started") && (e.data as { worker: string }).worker === "demo", 60_000);
        const cid = (started.data as { containerId: string }).containerId;
        docker("kill", cid);
        const restarted = await events.waitFor("demo restarted", (e) => is(e, "out.worker.restarted"), 30_000);
        const exited = events.events.find((e: VigilEvent) => is(e, "obs.worker.exited") && !(e.data as { expected: boolean }).expected)!;
        assert.equal(restarted.incident, exited.incident, "one incident from exit to outcome");
        assert.equal(containerState(cid).Running, true);
        for (const s of ["decider", "supervisor", "health", "gateway", "telemetry", "netmon"]) await events.waitFor(`${s} started on its own user`, (e) => is(e, "sys.service.started") && (e.data as { service: string }).service === s, 30_000);
        assert.equal(events.events.filter((e) => e.id === forged.id).length, 0, "the forged command never reached the stream");
        // The server logged the forger, and no service needed a right it lacks.
        const log = compose("logs", "--no-color", "nats");
        const violations = log.split("\n").filter((l) => / Violation - User /.test(l));
        assert.ok(violations.some((l) => l.includes(`Publish Violation - User "health", Subject "vigil.${device}.cmd.worker.restart"`)), log.slice(-3000));
        assert.deepEqual(violations.filter((l) => !l.includes(':forger" - ')), [], "only the forger was refused");
      } finally {
        await events.close();
        await asHealth.close().catch(() => undefined);
        await nc.close();
      }
    } finally {
      try {
        down(); // compose reads the env files even to take the project down
      } finally {
        rmSync(busDir, { recursive: true, force: true });
      }
    }
  });
});
