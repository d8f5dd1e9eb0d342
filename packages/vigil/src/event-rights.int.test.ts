import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { BUS_SERVICES, CATALOG, EVENT_OWNERS, encodeEvent, ensureStream, eventSubject, is, loadConfig, makeEvent, type EventName, type VigilConfig } from "@vigil/events";
import { freePort, watchEvents } from "@vigil/events/testing";
import { findNatsServer, startEmbeddedNats, type EmbeddedNats } from "./embedded-nats.js";
import { writeBusAuth } from "./bus-auth.js";
import { serviceMain, SERVICES } from "./paths.js";
import { readEnvFile, writeConfig } from "./e2e-helpers.js";

const DEVICE = "er-1";
const TYPES = Object.keys(CATALOG) as EventName[];

/** The server's answer to one JetStream publish: "ack", or "refused" for a permissions violation (anything else fails the test). */
async function tryPublish(nc: NatsConnection, subject: string): Promise<"ack" | "refused"> {
  try {
    await jetstream(nc).publish(subject, "{}", { timeout: 5_000 });
    return "ack";
  } catch (err) {
    const refusal = (err as Error & { cause?: Error }).cause ?? (err as Error);
    if (refusal.name === "PermissionViolationError" || /permissions violation/i.test(refusal.message)) return "refused";
    throw err;
  }
}

describe("publish rights per event type (bus users generated from EVENT_OWNERS, real nats-server)", () => {
  let dir: string;
  let cfg: string;
  let config: VigilConfig;
  let nats: EmbeddedNats & { release(): void };
  let admin: NatsConnection;
  const users = new Map<string, NatsConnection>();
  const children: ChildProcess[] = [];
  const cred = (user: string) => readEnvFile(join(dir, `${user}.env`));

  before(async () => {
    cfg = writeConfig({ device: DEVICE, health: { intervalMs: 60_000, anomaly: { enabled: false } }, decider: { heartbeatMs: 500 }, workers: [{ name: "sensor", command: "sleep", args: ["600"] }] });
    config = loadConfig(cfg, {});
    dir = mkdtempSync(join(tmpdir(), "vigil-event-rights-"));
    const port = await freePort();
    writeBusAuth(config, SERVICES, dir, { listen: `127.0.0.1:${port}`, http: `127.0.0.1:${await freePort()}`, storeDir: join(dir, "store") });
    nats = await startEmbeddedNats(findNatsServer().bin, { port, dataDir: dir, name: "event-rights-test", configFile: join(dir, "nats-server.conf") });
    admin = await connect({ servers: nats.url, user: "admin", pass: cred("admin").VIGIL_NATS_PASS });
    await ensureStream(await jetstreamManager(admin), config.stream);
    for (const s of BUS_SERVICES) {
      const c = cred(s);
      users.set(s, await connect({ servers: nats.url, user: c.VIGIL_NATS_USER, pass: c.VIGIL_NATS_PASS, inboxPrefix: c.VIGIL_NATS_INBOX_PREFIX, maxReconnectAttempts: 0 }));
    }
  });

  after(async () => {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
    for (const nc of users.values()) await nc.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await nats?.stop();
  });

  it("every service user × every event type: accepted exactly when it owns the type (on its own lifecycle subject), refused otherwise", async () => {
    const wrong: string[] = [];
    for (const service of BUS_SERVICES) {
      const nc = users.get(service)!;
      for (const name of TYPES) {
        const owns = (EVENT_OWNERS[name] as readonly string[]).includes(service);
        // Lifecycle types: the service's own subject, and the decider's (a forged proof of life) for everyone else.
        const subjects = [eventSubject(DEVICE, name, service), ...(service !== "decider" && name === "sys.service.heartbeat" ? [eventSubject(DEVICE, name, "decider")] : [])];
        for (const [i, subject] of subjects.entries()) {
          const expected = owns && i === 0 ? "ack" : "refused";
          const got = await tryPublish(nc, subject);
          if (got !== expected) wrong.push(`${service} → ${subject}: ${got}, expected ${expected}`);
        }
      }
      // The old per-kind subjects are gone: nothing outside the catalog, no shared heartbeat subject.
      for (const subject of [`vigil.${DEVICE}.obs.invented`, `vigil.${DEVICE}.sys.service.heartbeat`, `vigil.${DEVICE}.sys.invented`]) {
        const got = await tryPublish(nc, subject);
        if (got !== "refused") wrong.push(`${service} → ${subject}: ${got}, expected refused`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("netmon's obs.worker.exited for the live sensor changes nothing: refused by the server, and with admin's rights in netmon's name the decider dead-letters it and opens no incident", async () => {
    const events = await watchEvents(admin);
    try {
      const decider = cred("decider");
      children.push(spawn(process.execPath, [serviceMain("decider")], { env: { ...process.env, VIGIL_CONFIG: cfg, VIGIL_NATS_URL: nats.url, VIGIL_LOG_LEVEL: "warn", ...decider }, stdio: "ignore" }));
      await events.waitFor("the decider started", (e) => is(e, "sys.service.started") && (e.data as { service: string }).service === "decider", 30_000);
      const exit = (source: string) => makeEvent(DEVICE, `vigil/${DEVICE}/${source}`, "obs.worker.exited", { worker: "sensor", pid: 4242, code: null, signal: "SIGKILL", expected: false, uptimeMs: 10 });

      const asNetmon = exit("netmon");
      await assert.rejects(jetstream(users.get("netmon")!).publish(asNetmon.subject, encodeEvent(asNetmon), { msgID: asNetmon.id }), (err: Error & { cause?: Error }) => (err.cause ?? err).name === "PermissionViolationError");

      // A user that may publish it (admin) with source netmon: the decider's consumer refuses it.
      const forged = exit("netmon");
      await jetstream(admin).publish(forged.subject, encodeEvent(forged), { msgID: forged.id });
      const dl = await events.waitFor("the decider's dead letter", (e) => is(e, "sys.deadletter") && (e.data as { payload: string }).payload.includes(forged.id), 20_000);
      const d = dl.data as { consumer: string; reason: string };
      assert.equal(d.consumer, "decider");
      assert.match(d.reason, /netmon/);
      assert.match(d.reason, /obs\.worker\.exited/);
      assert.match(d.reason, /only supervisor may/);

      // The same exit in the supervisor's name is handled: once it opened its incident, the forged one (earlier in the stream) certainly did not.
      const real = exit("supervisor");
      await jetstream(admin).publish(real.subject, encodeEvent(real), { msgID: real.id });
      await events.waitFor("the incident of the real exit", (e) => is(e, "dec.incident.opened") && e.causation === real.id, 20_000);
      assert.deepEqual(events.events.filter((e) => e.causation === forged.id).map((e) => e.type), []);
    } finally {
      await events.close();
    }
  });

  it("a decider heartbeat forged by another service's user is refused; only the decider's own user may publish it", async () => {
    const forged = makeEvent(DEVICE, `vigil/${DEVICE}/decider`, "sys.service.heartbeat", { service: "decider", pid: 1, uptimeMs: 1, rssBytes: 1 });
    assert.equal(forged.subject, `vigil.${DEVICE}.sys.service.decider.heartbeat`);
    for (const s of BUS_SERVICES.filter((x) => x !== "decider")) {
      await assert.rejects(jetstream(users.get(s)!).publish(forged.subject, encodeEvent(forged)), (err: Error & { cause?: Error }) => (err.cause ?? err).name === "PermissionViolationError", s);
    }
    // The decider's own user may.
    assert.equal(await tryPublish(users.get("decider")!, forged.subject), "ack");
  });
});
