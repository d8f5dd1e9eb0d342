import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { get } from "node:http";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connectBus, is, type VigilEvent } from "@vigil/events";
import { containerState, docker, freePort, removeDeviceContainers, requireDocker, watchEvents } from "@vigil/events/testing";

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

describe("compose.yaml with the offline images (real Docker engine, docker-compose v1)", () => {
  it("docker-compose --profile demo up -d → the gateway answers /healthz and a killed demo workload comes back through Vigil; down -v cleans up", async () => {
    requireDocker();
    run("docker-compose", ["version", "--short"]);
    run("bash", ["scripts/build-offline-images.sh"]);
    const project = `vigile2e${randomBytes(3).toString("hex")}`;
    const device = `cmp-${randomBytes(3).toString("hex")}`;
    const natsPort = await freePort();
    const gatewayPort = await freePort();
    const env = {
      VIGIL_IMAGE: "vigil:local",
      NATS_IMAGE: "vigil-nats:local",
      NATS_HOST_PORT: String(natsPort),
      VIGIL_GATEWAY_HOST_PORT: String(gatewayPort),
      VIGIL_CONFIG_NAME: "vigil.demo.yaml",
      VIGIL_DEVICE: device,
    };
    const compose = (...args: string[]) => run("docker-compose", ["-p", project, "-f", "compose.yaml", "--profile", "demo", ...args], env);
    try {
      compose("up", "-d");
      const health = await until("gateway /healthz", 90_000, async () => {
        const r = await httpGet(`http://127.0.0.1:${gatewayPort}/healthz`);
        return r.status === 200 ? (JSON.parse(r.body) as { ok: boolean; device: string }) : undefined;
      });
      assert.deepEqual([health.ok, health.device], [true, device]);

      const nc = await connectBus({ url: `nats://127.0.0.1:${natsPort}` }, "test");
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
        const services = new Set(events.events.filter((e) => is(e, "sys.service.started")).map((e) => (e.data as { service: string }).service));
        for (const s of ["decider", "supervisor", "health", "gateway", "telemetry", "netmon"]) assert.ok(services.has(s), `${s} started (have ${[...services].join(", ")})`);
      } finally {
        await events.close();
        await nc.close();
      }
    } finally {
      spawnSync("docker-compose", ["-p", project, "-f", "compose.yaml", "--profile", "demo", "down", "-v", "--remove-orphans"], { cwd: REPO, env: { ...process.env, ...env }, stdio: "ignore" });
      removeDeviceContainers(device);
      assert.equal(docker("ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`), "", "compose down removed its containers");
    }
  });
});
