import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, memoryBytes, parseConfig } from "./mod.js";

const parse = (raw: object) => parseConfig(raw, { env: {} });
const refused = (raw: object, message: RegExp) => assert.throws(() => parse(raw), (e: Error) => e instanceof ConfigError && message.test(e.message));

describe("config: containers, docker, netmon", () => {
  it("fills container defaults: restart policy as for workers, an internal network, no vNICs", () => {
    const c = parse({ containers: [{ name: "plc", image: "plc:1" }] }).containers[0]!;
    assert.equal(c.internalNetwork, true);
    assert.deepEqual(c.vnics, []);
    assert.equal(c.restart.maxRestarts, 5);
    const cfg = parse({});
    assert.equal(cfg.docker.socketPath, "/var/run/docker.sock");
    assert.deepEqual([cfg.netmon.debounceMs, cfg.netmon.ignore], [3000, ["lo", "docker0", "veth*", "br-*"]]);
  });

  it("refuses bad vNICs and limits with the field named", () => {
    refused({ containers: [{ name: "plc", image: "x", vnics: [{ name: "lan", parentInterface: "eth1", mode: "manual" }] }] }, /containers\[0\]\.vnics\[0\]\.ip: is required when mode is manual/);
    refused({ containers: [{ name: "plc", image: "x", vnics: [{ name: "lan", parentInterface: "eth1", ip: "10.0.0.1" }] }] }, /vnics\[0\]\.ip: is only used with mode: manual/);
    refused({ containers: [{ name: "plc", image: "x", vnics: [{ name: "lan", parentInterface: "eth1", mode: "manual", ip: "10.0.0.300" }] }] }, /vnics\[0\]\.ip: must be an IPv4 address/);
    refused({ containers: [{ name: "plc", image: "x", vnics: [{ name: "lan", parentInterface: "eth1", mac: "02:42" }] }] }, /vnics\[0\]\.mac: must be a MAC address/);
    refused({ containers: [{ name: "plc", image: "x", vnics: [{ name: "lan", parentInterface: "eth1", parentSubnet: "10.0.0.0" }] }] }, /parentSubnet: must be an IPv4 subnet/);
    refused({ containers: [{ name: "plc", image: "x", memory: "2m" }] }, /containers\[0\]\.memory: must be at least 6m/);
    refused({ containers: [{ name: "plc", image: "x", memory: "lots" }] }, /containers\[0\]\.memory: must be a size like "64m"/);
    refused({ containers: [{ name: "plc", image: "x", restartPolicy: "always" }] }, /containers\[0\]: Unrecognized key/);
  });

  it("workers and containers share one namespace (commands address either by name)", () => {
    refused({ workers: [{ name: "plc", command: "x" }], containers: [{ name: "plc", image: "x" }] }, /containers\[0\]\.name: duplicate workload name "plc"/);
  });

  it("reads memory sizes", () => {
    assert.deepEqual([memoryBytes("16m"), memoryBytes("512k"), memoryBytes("1g"), memoryBytes(7_000_000)], [16 * 1024 ** 2, 512 * 1024, 1024 ** 3, 7_000_000]);
  });

  it("takes the docker socket from VIGIL_DOCKER_SOCKET", () => {
    assert.equal(parseConfig({}, { env: { VIGIL_DOCKER_SOCKET: "/run/user/1000/docker.sock" } }).docker.socketPath, "/run/user/1000/docker.sock");
  });
});
