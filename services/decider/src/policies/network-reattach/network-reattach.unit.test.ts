import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventName, type VigilEvent } from "@vigil/events";
import { scenario } from "./given.test-helper.js";

const vnic = { name: "lan", parentInterface: "eth1", mode: "manual", ip: "198.51.100.10" };
const { at, given, dataOf } = scenario({
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
    const { names, decisions } = given().when(changed(0, iface("198.51.100.0/25", "198.51.100.1", 25), iface("198.51.100.0/24", "198.51.100.1", 24, "198.51.100.254")));
    assert.deepEqual(names, ["dec.incident.opened", "cmd.container.reattach"]);
    assert.deepEqual(dataOf(decisions[1]), { worker: "plc", interface: "eth1", subnet: "198.51.100.0/24", gateway: "198.51.100.254", delayMs: 0, reason: dataOf<{ reason: string }>(decisions[1]).reason, requestedBy: "decider" });
    assert.match(dataOf<{ reason: string }>(decisions[0]).reason, /eth1 moved from 198\.51\.100\.0\/25 to 198\.51\.100\.0\/24/);
    assert.equal(decisions[0]!.incident, decisions[1]!.incident);
  });

  it("leaves containers on other interfaces alone, and does nothing when the subnet and gateway did not change or the address is gone", () => {
    const a = iface("198.51.100.0/24", "198.51.100.1", 24);
    assert.deepEqual(given().when(changed(0, a, { ...a, ipv4: [{ address: "198.51.100.2", prefix: 24, subnet: "198.51.100.0/24" }] })).names, []);
    assert.deepEqual(given().when(changed(0, a, null)).names, []);
    assert.deepEqual(given().when(changed(0, null, iface("203.0.113.0/24", "203.0.113.1", 24), "eth9")).names, []);
  });

  it("also reattaches a container the supervisor reported on the interface (vNIC record in the event log)", () => {
    const reported = at(0, "obs.container.networks", { worker: "legacy", containerId: "c1", vnics: [{ vnic: "x", parentInterface: "eth1", network: "macvlan_eth1_198.51.100.0_25", subnet: "198.51.100.0/25", mode: "dhcp" }] });
    const { decisions, state } = given(reported).when(changed(10, iface("198.51.100.0/25", "198.51.100.1", 25), iface("203.0.113.0/24", "203.0.113.1", 24)));
    assert.deepEqual(decisions.filter((d) => eventName(d) === "cmd.container.reattach").map((d) => dataOf<{ worker: string }>(d).worker), ["legacy", "plc"]);
    assert.equal(state.containers?.legacy?.vnics[0]?.network, "macvlan_eth1_198.51.100.0_25");
  });

  it("given a reattach command, when the supervisor reports it done, then the incident is resolved", () => {
    const c = changed(0, iface("198.51.100.0/25", "198.51.100.1", 25), iface("198.51.100.0/24", "198.51.100.1", 24));
    const d = given().when(c).decisions;
    const cmd = d.find((x) => eventName(x) === "cmd.container.reattach")!;
    const done = at(500, "out.container.reattached", { worker: "plc", command: cmd.id, requestedBy: "decider", vnics: [{ vnic: "lan", parentInterface: "eth1", network: "macvlan_eth1_198.51.100.0_24", subnet: "198.51.100.0/24", mode: "manual", ip: "198.51.100.10" }] }, cmd.incident);
    const { names, state } = given(c, ...d).when(done);
    assert.deepEqual(names, ["dec.incident.resolved"]);
    assert.equal(state.incidents[cmd.incident!]?.status, "resolved");
  });
});

describe("containers under crash-restart", () => {
  const { at: at2, given: given2, dataOf: dataOf2 } = scenario({ containers: [{ name: "plc", image: "plc:1", restart: { backoffBaseMs: 50, maxRestarts: 2 } }] });
  const started = (ms: number, pid: number): VigilEvent => at2(ms, "obs.worker.started", { worker: "plc", pid, command: "plc:1", containerId: "c1" });
  it("given a running container, when docker kills it, then it is restarted like a process", () => {
    const { names } = given2(started(0, 10)).when(at2(1000, "obs.worker.exited", { worker: "plc", pid: 10, code: 137, signal: "SIGKILL", expected: false, uptimeMs: 1000, containerId: "c1" }));
    assert.deepEqual(names, ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
  });
  it("given a running container, when the OOM killer ends it, then it is restarted and the incident says so", () => {
    const { names, decisions } = given2(started(0, 10)).when(at2(1000, "obs.worker.exited", { worker: "plc", pid: 10, code: 137, signal: "SIGKILL", expected: false, uptimeMs: 1000, oom: true, containerId: "c1" }));
    assert.deepEqual(names, ["dec.incident.opened", "dec.remediation.decided", "cmd.worker.restart"]);
    assert.match(dataOf2<{ reason: string }>(decisions[0]).reason, /plc was killed by the OOM killer \(memory limit reached/);
    assert.match(dataOf2<{ reason: string }>(decisions[2]).reason, /OOM killer/);
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
