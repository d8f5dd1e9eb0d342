import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { contains, hostLimits, macNotKeptWarnings, macvlanName, overlaps, parentSubnet, specHash, subnetOf, vnicAttachments, vnicEndpoint } from "./networks.js";

const container = (extra: object = {}) => parseConfig({ containers: [{ name: "plc", image: "plc:1", ...extra }] }, { env: {} }).containers[0]!;

describe("docker driver: network arithmetic and container settings", () => {
  it("names MACVLAN networks by parent and subnet, as the seed does", () => {
    assert.equal(macvlanName("eth1", "192.168.1.0/24"), "macvlan_eth1_192.168.1.0_24");
  });

  it("computes subnets, containment and pool overlap", () => {
    assert.equal(subnetOf("198.51.100.77", 25), "198.51.100.0/25");
    assert.equal(subnetOf("198.51.100.200", 25), "198.51.100.128/25");
    assert.equal(contains("198.51.100.0/24", "198.51.100.10"), true);
    assert.equal(contains("198.51.100.0/25", "198.51.100.200"), false);
    assert.equal(overlaps("198.51.100.0/25", "198.51.100.0/24"), true);
    assert.equal(overlaps("198.51.100.0/25", "198.51.100.128/25"), false);
  });

  it("turns limits into HostConfig with Docker's restart policy off", () => {
    assert.deepEqual(hostLimits(container({ memory: "16m", cpus: 0.5 })), { RestartPolicy: { Name: "no" }, Memory: 16 * 1024 ** 2, MemorySwap: 16 * 1024 ** 2, NanoCpus: 5e8 });
    assert.deepEqual(hostLimits(container()), { RestartPolicy: { Name: "no" } });
  });

  it("keeps a manual vNIC's address when it fits the parent's subnet, and says why when it does not", () => {
    const [v] = container({ vnics: [{ name: "lan", parentInterface: "eth1", mode: "manual", ip: "198.51.100.10", mac: "02:00:5E:10:00:0A" }] }).vnics;
    assert.deepEqual(vnicEndpoint(v!, { subnet: "198.51.100.0/24", gateway: "198.51.100.1" }), { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ip: "198.51.100.10", mac: "02:00:5e:10:00:0a" });
    assert.match(vnicEndpoint(v!, { subnet: "203.0.113.0/24" }).error ?? "", /manual address 198\.51\.100\.10 is not in eth1's subnet 203\.0\.113\.0\/24/);
  });

  it("a changed config changes the spec hash (the container is recreated), the same config does not", () => {
    assert.equal(specHash(container()), specHash(container()));
    assert.notEqual(specHash(container()), specHash(container({ memory: "64m" })));
  });

  it("a vNIC's parent subnet: a reattach's new subnet (with its own gateway) wins over the configured one", () => {
    const [v] = container({ vnics: [{ name: "lan", parentInterface: "eth1", parentSubnet: "198.51.100.0/25", parentGateway: "198.51.100.1" }] }).vnics;
    assert.deepEqual(parentSubnet(v!), { subnet: "198.51.100.0/25", gateway: "198.51.100.1" });
    assert.deepEqual(parentSubnet(v!, { subnet: "198.51.100.0/24" }), { subnet: "198.51.100.0/24" });
    assert.deepEqual(parentSubnet(v!, { subnet: "203.0.113.0/24", gateway: "203.0.113.1" }), { subnet: "203.0.113.0/24", gateway: "203.0.113.1" });
    const [none] = container({ vnics: [{ name: "wan", parentInterface: "no-such-if0" }] }).vnics;
    assert.throws(() => parentSubnet(none!), /vNIC wan: no IPv4 subnet known for parent interface no-such-if0/);
  });

  it("reads each configured vNIC's attachment from the engine's networks, skipping one not attached", () => {
    const c = container({ vnics: [{ name: "lan", parentInterface: "eth1", mode: "manual", ip: "198.51.100.10" }, { name: "wan", parentInterface: "eth2" }] });
    const macvlans = [
      { Name: "macvlan_eth1_198.51.100.0_24", Options: { parent: "eth1" }, IPAM: { Config: [{ Subnet: "198.51.100.0/24", Gateway: "198.51.100.1" }] } },
      { Name: "macvlan_eth2_203.0.113.0_24", Options: { parent: "eth2" }, IPAM: { Config: [{ Subnet: "203.0.113.0/24" }] } },
    ];
    const attached = { "macvlan_eth1_198.51.100.0_24": { IPAddress: "198.51.100.10", MacAddress: "02:00:5e:10:00:0a" }, bridge: {} };
    assert.deepEqual(vnicAttachments(c.vnics, attached, macvlans), [
      { vnic: "lan", parentInterface: "eth1", network: "macvlan_eth1_198.51.100.0_24", subnet: "198.51.100.0/24", gateway: "198.51.100.1", mode: "manual", ip: "198.51.100.10", mac: "02:00:5e:10:00:0a" },
    ]);
  });

  it("warns when the engine did not keep a configured MAC (case-insensitive), not when it did or none was set", () => {
    const c = container({ vnics: [{ name: "lan", parentInterface: "eth1", mac: "02:00:5E:10:00:0A" }, { name: "wan", parentInterface: "eth1" }] });
    assert.deepEqual(macNotKeptWarnings(c.vnics, [{ vnic: "lan", mac: "02:00:5e:10:00:0a" }, { vnic: "wan", mac: "02:42:ac:11:00:02" }]), []);
    const [w, ...more] = macNotKeptWarnings(c.vnics, [{ vnic: "lan", mac: "02:42:ac:11:00:03" }]);
    assert.equal(more.length, 0);
    assert.match(w ?? "", /vNIC lan: MAC 02:00:5e:10:00:0a not kept \(got 02:42:ac:11:00:03\).*API 1\.44/i);
  });
});
