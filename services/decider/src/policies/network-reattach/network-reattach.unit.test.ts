import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, type VigilEvent } from "@vigil/events";
import { decision, matching, scenario } from "../../core/given.test-helper.js";

const vnic = { name: "lan", parentInterface: "eth1", mode: "manual", ip: "198.51.100.10" };
const { at, given } = scenario({
  containers: [
    { name: "plc", image: "plc:1", vnics: [vnic] },
    { name: "hmi", image: "hmi:1", vnics: [{ name: "lan", parentInterface: "eth2" }] },
  ],
});
const iface = (subnet: string, address: string, prefix: number, gateway?: string) => ({ name: "eth1", state: "UP", ipv4: [{ address, prefix, subnet }], ...(gateway ? { gateway } : {}) });
const changed = (ms: number, before: ReturnType<typeof iface> | null, after: ReturnType<typeof iface> | null, name = "eth1") =>
  at(ms, "obs.net.changed", { interface: name, before: before && { ...before, name }, after: after && { ...after, name } });

describe("network-reattach policy", () => {
  it("given a container with a vNIC on eth1, when eth1 moves to another subnet, then it is reattached in a new incident", () => {
    const reason = "eth1 moved from 198.51.100.0/25 to 198.51.100.0/24: reattaching plc's vNICs";
    given()
      .when(changed(0, iface("198.51.100.0/25", "198.51.100.1", 25), iface("198.51.100.0/24", "198.51.100.1", 24, "198.51.100.254")))
      .then([
        decision("dec.incident.opened", { worker: "plc", reason: matching(/eth1 moved from 198\.51\.100\.0\/25 to 198\.51\.100\.0\/24/), policy: "network-reattach" }, "#a"),
        decision("cmd.container.reattach", { worker: "plc", interface: "eth1", subnet: "198.51.100.0/24", gateway: "198.51.100.254", delayMs: 0, reason, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("leaves containers on other interfaces alone, and does nothing when the subnet and gateway did not change or the address is gone", () => {
    const a = iface("198.51.100.0/24", "198.51.100.1", 24);
    given().when(changed(0, a, { ...a, ipv4: [{ address: "198.51.100.2", prefix: 24, subnet: "198.51.100.0/24" }] })).thenNothing();
    given().when(changed(0, a, null)).thenNothing();
    given().when(changed(0, null, iface("203.0.113.0/24", "203.0.113.1", 24), "eth9")).thenNothing();
  });

  it("also reattaches a container the supervisor reported on the interface (vNIC record in the event log)", () => {
    const reported = at(0, "obs.container.networks", { worker: "legacy", containerId: "c1", vnics: [{ vnic: "x", parentInterface: "eth1", network: "macvlan_eth1_198.51.100.0_25", subnet: "198.51.100.0/25", mode: "dhcp" }] });
    const reason = (w: string) => `eth1 moved from 198.51.100.0/25 to 203.0.113.0/24: reattaching ${w}'s vNICs`;
    const reattach = (w: string, incident: string) => [
      decision("dec.incident.opened", { worker: w, reason: reason(w), policy: "network-reattach" }, incident),
      decision("cmd.container.reattach", { worker: w, interface: "eth1", subnet: "203.0.113.0/24", delayMs: 0, reason: reason(w), requestedBy: "decider" }, incident),
    ];
    const { state } = given(reported)
      .when(changed(10, iface("198.51.100.0/25", "198.51.100.1", 25), iface("203.0.113.0/24", "203.0.113.1", 24)))
      .then([...reattach("legacy", "#a"), ...reattach("plc", "#b")]);
    assert.equal(state.containers?.legacy?.vnics[0]?.network, "macvlan_eth1_198.51.100.0_25");
  });

  it("given a reattach command, when the supervisor reports it done, then the incident is resolved", () => {
    const c = changed(0, iface("198.51.100.0/25", "198.51.100.1", 25), iface("198.51.100.0/24", "198.51.100.1", 24));
    const d = given().when(c).decisions;
    const cmd = d.find((x) => eventName(x) === "cmd.container.reattach")!;
    const done = at(500, "out.container.reattached", { worker: "plc", command: cmd.id, requestedBy: "decider", vnics: [{ vnic: "lan", parentInterface: "eth1", network: "macvlan_eth1_198.51.100.0_24", subnet: "198.51.100.0/24", mode: "manual", ip: "198.51.100.10" }] }, cmd.incident);
    const { state } = given(c, ...d)
      .when(done)
      .then([decision("dec.incident.resolved", { worker: "plc", reason: "plc reattached: lan 198.51.100.10 on macvlan_eth1_198.51.100.0_24" }, cmd.incident)]);
    assert.equal(state.incidents[cmd.incident!]?.status, "resolved");
  });
});

describe("containers under crash-restart", () => {
  const { at: at2, given: given2 } = scenario({ containers: [{ name: "plc", image: "plc:1", restart: { backoffBaseMs: 50, maxRestarts: 2, coolDownMs: 0 } }] });
  const started = (ms: number, pid: number): VigilEvent => at2(ms, "obs.worker.started", { worker: "plc", pid, command: "plc:1", containerId: "c1" });
  it("given a running container, when docker kills it, then it is restarted like a process", () => {
    given2(started(0, 10))
      .when(at2(1000, "obs.worker.exited", { worker: "plc", pid: 10, code: 137, signal: "SIGKILL", expected: false, uptimeMs: 1000, containerId: "c1" }))
      .then([
        decision("dec.incident.opened", { worker: "plc", reason: "plc killed by SIGKILL" }, "#a"),
        decision("dec.remediation.decided", { worker: "plc", policy: "crash-restart", action: "restart", attempt: 0, delayMs: 0, reason: "killed by SIGKILL" }, "#a"),
        decision("cmd.worker.restart", { worker: "plc", delayMs: 0, reason: "killed by SIGKILL", requestedBy: "decider" }, "#a"),
      ]);
  });
  it("given a running container, when the OOM killer ends it, then it is restarted and the incident says so", () => {
    const reason = "was killed by the OOM killer (memory limit reached, exit code 137)";
    given2(started(0, 10))
      .when(at2(1000, "obs.worker.exited", { worker: "plc", pid: 10, code: 137, signal: "SIGKILL", expected: false, uptimeMs: 1000, oom: true, containerId: "c1" }))
      .then([
        decision("dec.incident.opened", { worker: "plc", reason: matching(/plc was killed by the OOM killer \(memory limit reached/) }, "#a"),
        decision("dec.remediation.decided", { worker: "plc", policy: "crash-restart", action: "restart", attempt: 0, delayMs: 0, reason }, "#a"),
        decision("cmd.worker.restart", { worker: "plc", delayMs: 0, reason: matching(/OOM killer/), requestedBy: "decider" }, "#a"),
      ]);
  });
  it("uses the container's own restart settings (maxRestarts 2 → the third crash in the window escalates)", () => {
    let h = [started(0, 10)];
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ex = at2(100 * (i + 1), "obs.worker.exited", { worker: "plc", pid: 10 + i, code: 1, signal: null, expected: false, uptimeMs: 50 });
      const r = given2(...h).when(ex);
      seen.push(r.names.at(-1)!);
      h = [...h, ex, ...r.decisions, at2(100 * (i + 1) + 10, "out.worker.restarted", { worker: "plc", command: "c", requestedBy: "decider", pid: 11 + i })];
    }
    assert.deepEqual(seen, ["cmd.worker.restart", "cmd.worker.restart", "dec.incident.escalated"]);
  });
});
