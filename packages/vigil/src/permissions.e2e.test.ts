import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectBus, is, makeEvent, encodeEvent, type VigilEvent } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { readCredential } from "./bus-auth.js";
import { runVigil, vigilUpEmbedded, writeConfig } from "./e2e-helpers.js";

const pidOf = (e: VigilEvent) => (e.data as { pid: number }).pid;
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** Resolves with the first async error the connection reports (nats.js: status "error"). */
function nextAsyncError(nc: NatsConnection, timeoutMs = 10_000): Promise<Error> {
  const reported = (async () => {
    for await (const s of nc.status()) if (s.type === "error") return s.error as Error;
    throw new Error("connection closed without an error");
  })();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no async error in ${timeoutMs} ms`)), timeoutMs)));
  return Promise.race([reported, late]).finally(() => clearTimeout(timer));
}

describe("vigil up: least privilege on the bus (embedded nats-server, one user per service)", () => {
  it("health's credentials cannot publish a command (refused, logged); no credentials, no connection; healing still works with every service on its own user", async () => {
    const device = "lp-1";
    const cfg = writeConfig({
      device,
      supervisor: { heartbeatMs: 1000 },
      health: { intervalMs: 60_000, anomaly: { enabled: false } },
      workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 600_000 } }],
    });
    const vigil = await vigilUpEmbedded(cfg, await freePort());
    const serverLog = join(vigil.dataDir, "logs", "nats-server.log");
    let admin: NatsConnection | undefined;
    let asHealth: NatsConnection | undefined;
    try {
      // The generated config and every credential file: readable by the owner only.
      assert.equal(mode(join(vigil.dataDir, "nats-server.conf")), "600");
      for (const user of ["admin", "supervisor", "decider", "health", "telemetry", "netmon", "gateway"]) {
        assert.equal(mode(join(vigil.dataDir, "creds", `${user}.json`)), "600", user);
      }
      assert.equal(mode(join(vigil.dataDir, "creds")), "700");

      admin = await connectBus(vigil.nats, "test-admin");
      const events = await watchEvents(admin);
      const started = await events.waitFor("sensor started", (e) => is(e, "obs.worker.started"), 30_000);

      // No credentials (and wrong ones): the server does not let the client in.
      await assert.rejects(connect({ servers: vigil.natsUrl, maxReconnectAttempts: 0, timeout: 3_000 }), /authorization violation/i);
      await assert.rejects(connect({ servers: vigil.natsUrl, user: "health", pass: "guessed", maxReconnectAttempts: 0, timeout: 3_000 }), /authorization violation/i);

      // The health service's credentials: its own observations are fine, a command is refused.
      const health = readCredential(vigil.dataDir, "health");
      assert.ok(health, "creds/health.json");
      asHealth = await connect({ servers: vigil.natsUrl, user: health.user, pass: health.pass, inboxPrefix: health.inboxPrefix, name: "forger", maxReconnectAttempts: 0 });
      const js = jetstream(asHealth);
      const problem = makeEvent(device, `vigil/${device}/health`, "obs.health.problem", { what: "permissions test", error: "none" });
      await js.publish(problem.subject, encodeEvent(problem), { msgID: problem.id });
      const forged = makeEvent(device, `vigil/${device}/health`, "cmd.worker.restart", { worker: "sensor", delayMs: 0, reason: "forged by health", requestedBy: "health" });
      assert.equal(forged.subject, `vigil.${device}.cmd.worker.restart`);
      const violation = nextAsyncError(asHealth);
      await assert.rejects(js.publish(forged.subject, encodeEvent(forged), { msgID: forged.id }), (err: Error & { cause?: Error }) => {
        // nats.js wraps the server's refusal (a RequestError whose cause is the violation).
        const refusal = err.cause ?? err;
        assert.equal(refusal.name, "PermissionViolationError");
        assert.match(refusal.message, new RegExp(`Permissions Violation for Publish to "vigil\\.${device}\\.cmd\\.worker\\.restart"`));
        return true;
      });
      assert.match((await violation).message, /permissions violation/i);
      // Nor can it pull the supervisor's commands off its durable consumer.
      await assert.rejects(js.consumers.get("VIGIL", "supervisor").then((c) => c.next({ expires: 1_000 })), /permissions violation/i);
      // The server logged who tried what.
      const log = readFileSync(serverLog, "utf8");
      assert.match(log, new RegExp(`Publish Violation - User "health", Subject "vigil\\.${device}\\.cmd\\.worker\\.restart"`));
      assert.match(log, /Publish Violation - User "health", Subject "\$JS\.API\.CONSUMER\.(INFO|MSG\.NEXT)\.VIGIL\.supervisor"/);
      await events.waitFor("health's allowed observation", (e) => e.id === problem.id);

      // Healing, with every service on its own user: kill -9 → the decider commands, the supervisor restarts.
      process.kill(pidOf(started), "SIGKILL");
      const again = await events.waitFor("sensor restarted by the reflex", (e) => is(e, "out.worker.restarted") && e.source.endsWith("/supervisor"), 30_000);
      assert.notEqual(pidOf(again), pidOf(started));
      await events.waitFor("the decider's command", (e) => is(e, "cmd.worker.restart") && e.source.endsWith("/decider"));
      // A command through the gateway (its own user may publish commands), with the CLI as admin.
      const viaGateway = await runVigil(["restart", "sensor", "--config", cfg]);
      assert.equal(viaGateway.code, 0, viaGateway.stderr);
      const requested = await events.waitFor("sensor restarted on request", (e) => is(e, "out.worker.restarted") && pidOf(e) !== pidOf(again), 30_000);
      const viaGw = await events.waitFor("the gateway's command", (e) => is(e, "cmd.worker.restart") && e.source.endsWith("/gateway"));
      assert.equal((requested.data as { command: string }).command, viaGw.id);
      const status = await runVigil(["status", "--config", cfg]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /sensor\s+running/);

      // The forged command never reached the stream, and no service hit a permission it lacks.
      assert.equal(events.events.filter((e) => e.id === forged.id).length, 0);
      const violations = readFileSync(serverLog, "utf8").split("\n").filter((l) => / Violation - User /.test(l));
      assert.deepEqual(violations.filter((l) => !l.includes(':forger" - ')), [], "only the test's client with health's credentials was refused");
      assert.ok(violations.length >= 2);
      await events.close();
    } finally {
      await asHealth?.close().catch(() => undefined);
      await admin?.close().catch(() => undefined);
      assert.equal(await vigil.stop(), 0);
    }
  });
});
