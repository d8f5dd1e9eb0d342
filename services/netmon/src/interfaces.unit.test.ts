import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { diffInterfaces, ignored, parseInterfaces } from "./interfaces.js";

const addrs = [
  { ifindex: 1, ifname: "lo", operstate: "UNKNOWN", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }] },
  { ifindex: 2, ifname: "eth1", operstate: "UP", address: "02:00:00:00:00:01", addr_info: [{ family: "inet", local: "198.51.100.7", prefixlen: 25 }, { family: "inet6", local: "fe80::1", prefixlen: 64 }] },
  { ifindex: 3, ifname: "veth12ab", operstate: "UP", addr_info: [{ family: "inet", local: "203.0.113.9", prefixlen: 24 }] },
  { ifindex: 4, ifname: "eth2", operstate: "DOWN", addr_info: [] },
  { ifindex: 5, ifname: "docker0", operstate: "DOWN", addr_info: [{ family: "inet", local: "172.17.0.1", prefixlen: 16 }] },
];
const routes = [
  { dst: "198.51.100.0/25", dev: "eth1" },
  { dst: "default", gateway: "198.51.100.1", dev: "eth1" },
];

describe("netmon: reading interfaces", () => {
  it("reports interfaces with IPv4 (subnet, prefix, gateway of the default route), ignoring lo, docker0 and veth* by default", () => {
    assert.deepEqual(parseInterfaces(addrs, routes, ["lo", "docker0", "veth*"]), [
      { name: "eth1", index: 2, state: "UP", mac: "02:00:00:00:00:01", ipv4: [{ address: "198.51.100.7", prefix: 25, subnet: "198.51.100.0/25" }], gateway: "198.51.100.1" },
    ]);
  });

  it("takes the ignore list from the config (here veth interfaces are wanted)", () => {
    assert.deepEqual(parseInterfaces(addrs, routes, ["lo"]).map((i) => i.name), ["docker0", "eth1", "veth12ab"]);
    assert.equal(ignored("veth0", ["veth*"]), true);
    assert.equal(ignored("eth0", ["eth"]), false);
  });

  it("diffs two readings: one entry per changed, new or gone interface, with before and after", () => {
    const [eth1] = parseInterfaces(addrs, routes, ["lo", "docker0", "veth*"]);
    const moved = { ...eth1!, ipv4: [{ address: "198.51.100.7", prefix: 24, subnet: "198.51.100.0/24" }] };
    const fresh = { name: "wlan0", state: "UP", ipv4: [{ address: "203.0.113.4", prefix: 24, subnet: "203.0.113.0/24" }] };
    assert.deepEqual(diffInterfaces([eth1!], [eth1!]), []);
    assert.deepEqual(diffInterfaces([eth1!], [moved, fresh]), [
      { interface: "eth1", before: eth1, after: moved },
      { interface: "wlan0", before: null, after: fresh },
    ]);
    assert.deepEqual(diffInterfaces([eth1!], []), [{ interface: "eth1", before: eth1, after: null }]);
  });
});
