import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BUS_SERVICES, deciderLifecycle, inboxPrefixFor, permissionsFor, type SubjectRules } from "./permissions.js";

/** NATS subject matching: `*` one token, `>` the rest (at least one token). */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
/** What the server decides: allowed by some allow rule and by no deny rule. */
const allowed = (r: SubjectRules, subject: string) => r.allow.some((a) => matches(a, subject)) && !r.deny.some((d) => matches(d, subject));

const scope = { device: "edge-1", stream: "VIGIL", telemetryDurable: "telemetry" };
const can = (service: string, subject: string) => allowed(permissionsFor(service, scope).publish, subject);
const canRead = (service: string, subject: string) => allowed(permissionsFor(service, scope).subscribe, subject);
const publishersOf = (subject: string) => BUS_SERVICES.filter((s) => can(s, subject));

describe("permissionsFor: least privilege on the bus", () => {
  it("given the subject matcher, when checked on NATS wildcards, then it matches like the server", () => {
    assert.ok(matches("vigil.*.cmd.>", "vigil.edge-1.cmd.worker.restart"));
    assert.ok(!matches("vigil.*.cmd.>", "vigil.edge-1.cmd"));
    assert.ok(!matches("$JS.API.CONSUMER.*.VIGIL.supervisor", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.supervisor"));
  });

  it("only the decider and the gateway publish commands (the gateway only operators' actions); health cannot", () => {
    assert.deepEqual(publishersOf("vigil.edge-1.cmd.worker.restart"), ["decider", "gateway"]);
    // Operators stop and start workers through the gateway too (vigil stop|start, issue 15).
    assert.deepEqual(publishersOf("vigil.edge-1.cmd.worker.stop"), ["decider", "gateway"]);
    assert.deepEqual(publishersOf("vigil.edge-1.cmd.container.reattach"), ["decider"]);
    assert.deepEqual(publishersOf("vigil.edge-1.cmd.net.discover"), []);
    assert.ok(!can("health", "vigil.edge-1.cmd.worker.restart"));
    assert.ok(!can("health", "vigil.other-device.cmd.worker.restart"));
  });

  it("each event type is published by its owners only (EVENT_OWNERS), on its own device only", () => {
    assert.deepEqual(publishersOf("vigil.edge-1.obs.worker.exited"), ["supervisor"]);
    assert.deepEqual(publishersOf("vigil.edge-1.obs.net.changed"), ["netmon"]);
    assert.deepEqual(publishersOf("vigil.edge-1.obs.health.sample"), ["health"]);
    assert.deepEqual(publishersOf("vigil.edge-1.out.worker.restarted"), ["supervisor"]);
    assert.deepEqual(publishersOf("vigil.edge-1.dec.incident.opened"), ["decider"]);
    assert.deepEqual(publishersOf("vigil.edge-1.sys.telemetry.lost"), ["telemetry"]);
    assert.deepEqual(publishersOf("vigil.edge-1.sys.deadletter"), ["supervisor", "decider", "telemetry", "netmon", "alerts"]);
    assert.deepEqual(publishersOf("vigil.edge-2.sys.deadletter"), []);
    // No kind wildcards: a type not in the catalog is no one's (admin's alone).
    assert.deepEqual(publishersOf("vigil.edge-1.obs.worker.invented"), []);
    assert.deepEqual(publishersOf("vigil.edge-1.obs.demo.reading"), []);
    for (const s of BUS_SERVICES) {
      for (const rule of permissionsFor(s, scope).publish.allow.filter((r) => r.startsWith("vigil."))) assert.ok(!/[*>]/.test(rule), `${s}: ${rule}`);
    }
  });

  it("lifecycle events are on a subject per service: only that service publishes its heartbeat", () => {
    assert.deepEqual(publishersOf("vigil.edge-1.sys.service.decider.heartbeat"), ["decider"]);
    assert.deepEqual(publishersOf("vigil.edge-1.sys.service.supervisor.heartbeat"), ["supervisor"]);
    assert.deepEqual(publishersOf("vigil.edge-1.sys.service.health.started"), ["health"]);
    assert.deepEqual(publishersOf("vigil.edge-1.sys.service.gateway.stopped"), ["gateway"]);
    assert.deepEqual(publishersOf("vigil.edge-1.sys.service.heartbeat"), []);
    assert.equal(deciderLifecycle("edge-1"), "vigil.edge-1.sys.service.decider.>");
  });

  it("only the supervisor reads, acks or recreates its command consumer", () => {
    for (const api of ["$JS.API.CONSUMER.MSG.NEXT.VIGIL.supervisor", "$JS.API.CONSUMER.INFO.VIGIL.supervisor", "$JS.API.CONSUMER.DELETE.VIGIL.supervisor", "$JS.API.CONSUMER.CREATE.VIGIL.supervisor.vigil.edge-1.cmd.>", "$JS.API.CONSUMER.DURABLE.CREATE.VIGIL.supervisor", "$JS.ACK.VIGIL.supervisor.1.5.5.0.0"]) {
      assert.deepEqual(publishersOf(api), ["supervisor"], api);
    }
    // …even the services allowed ordered consumers of any name.
    assert.ok(can("gateway", "$JS.API.CONSUMER.CREATE.VIGIL.oc_abc_1.vigil.>"));
    assert.ok(!can("gateway", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.decider"));
  });

  it("each durable consumer belongs to one service (telemetry's name comes from the config)", () => {
    assert.deepEqual(publishersOf("$JS.API.CONSUMER.MSG.NEXT.VIGIL.decider"), ["decider"]);
    assert.deepEqual(publishersOf("$JS.API.CONSUMER.MSG.NEXT.VIGIL.netmon"), ["netmon"]);
    assert.deepEqual(publishersOf("$JS.API.CONSUMER.MSG.NEXT.VIGIL.telemetry"), ["telemetry"]);
    const custom = permissionsFor("telemetry", { ...scope, telemetryDurable: "cloud" }).publish;
    assert.ok(allowed(custom, "$JS.API.CONSUMER.MSG.NEXT.VIGIL.cloud"));
    assert.ok(!allowed(custom, "$JS.API.CONSUMER.MSG.NEXT.VIGIL.telemetry"));
  });

  it("no service may create, change or delete the event stream (vigil up does, as admin)", () => {
    for (const api of ["$JS.API.STREAM.CREATE.VIGIL", "$JS.API.STREAM.UPDATE.VIGIL", "$JS.API.STREAM.DELETE.VIGIL", "$JS.API.STREAM.PURGE.VIGIL"]) {
      assert.deepEqual(publishersOf(api), [], api);
    }
    assert.deepEqual(publishersOf("$JS.API.STREAM.INFO.VIGIL"), [...BUS_SERVICES]);
    // Without vigil up's admin step (compose), the decider alone sets the stream up; it still cannot delete it.
    const manager = (svc: string) => permissionsFor(svc, { ...scope, streamManager: "decider" }).publish;
    assert.ok(allowed(manager("decider"), "$JS.API.STREAM.CREATE.VIGIL"));
    assert.ok(allowed(manager("decider"), "$JS.API.STREAM.UPDATE.VIGIL"));
    assert.ok(!allowed(manager("decider"), "$JS.API.STREAM.DELETE.VIGIL"));
    assert.ok(!allowed(manager("health"), "$JS.API.STREAM.CREATE.VIGIL"));
  });

  it("only the decider writes its snapshot; health and the gateway read it", () => {
    assert.deepEqual(publishersOf("$KV.vigil_decider.edge-1"), ["decider"]);
    assert.deepEqual(publishersOf("$JS.API.DIRECT.GET.KV_vigil_decider.$KV.vigil_decider.edge-1"), ["decider", "health", "gateway"]);
    assert.deepEqual(publishersOf("$JS.API.STREAM.DELETE.KV_vigil_decider"), []);
  });

  it("replies reach a service only in its own inbox; the supervisor also hears the decider's heartbeats and restart commands live", () => {
    assert.ok(canRead("health", `${inboxPrefixFor("health")}.abc.1`));
    assert.ok(!canRead("health", `${inboxPrefixFor("gateway")}.abc.1`));
    assert.ok(!canRead("health", "_INBOX.abc"));
    assert.ok(!canRead("health", "vigil.edge-1.cmd.worker.restart"));
    assert.ok(canRead("supervisor", "vigil.edge-1.sys.service.decider.heartbeat"));
    assert.ok(!canRead("supervisor", "vigil.edge-1.sys.service.health.heartbeat"));
    assert.ok(!canRead("decider", "vigil.edge-1.sys.service.decider.heartbeat"));
    assert.ok(canRead("supervisor", "vigil.edge-1.cmd.worker.restart"));
    assert.ok(!canRead("supervisor", "vigil.edge-1.cmd.worker.stop"), "only restarts have the live path");
    assert.ok(!canRead("supervisor", "vigil.edge-2.cmd.worker.restart"), "only its own device's");
  });

  it("a service not in the table gets the least: its own start and stop, no observations, no commands", () => {
    const p = permissionsFor("newcomer", scope);
    assert.ok(allowed(p.publish, "vigil.edge-1.sys.service.newcomer.started"));
    assert.ok(!allowed(p.publish, "vigil.edge-1.obs.thing"));
    assert.ok(!allowed(p.publish, "vigil.edge-1.sys.service.decider.heartbeat"));
    assert.ok(!allowed(p.publish, "vigil.edge-1.cmd.worker.restart"));
    assert.ok(!allowed(p.publish, "$JS.API.CONSUMER.MSG.NEXT.VIGIL.supervisor"));
  });
});
