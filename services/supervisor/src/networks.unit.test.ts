import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { contains, hostLimits, macvlanName, overlaps, specHash, subnetOf, vnicEndpoint } from "./networks.js";

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
});
