import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FleetSchema } from "@vigil/events";
import { decideUplink, initialUplinkState, lastLeafError, leafServerConfig, type UplinkState } from "./fleet-uplink.js";

const fleet = (f: object) => FleetSchema.parse(f);

describe("fleet uplink: the embedded server's config", () => {
  it("given a hub with user and pass, then the server runs JetStream in the device's domain as a leaf node, with Vigil's subjects kept off the link", () => {
    const text = leafServerConfig({ device: "dev-1", port: 4333, monitorPort: 8333, storeDir: "/data/nats", configDir: "/etc/vigil", fleet: fleet({ hub: "nats-leaf://hub:7422", user: "le af", pass: "p@ss" }) });
    assert.match(text, /listen: "127\.0\.0\.1:4333"/);
    assert.match(text, /http: "127\.0\.0\.1:8333"/);
    assert.match(text, /jetstream \{\n  store_dir: "\/data\/nats"\n  domain: "dev-1"\n\}/);
    assert.match(text, /urls: \["nats-leaf:\/\/le%20af:p%40ss@hub:7422"\]/);
    assert.match(text, /deny_imports: \["vigil\.>", "deploy\.>", "\$JS\.dev-1\.API\.STREAM\.CREATE\.>"/);
    assert.match(text, /deny_exports: \["vigil\.>", "deploy\.>", "fleet\.>", "\$JS\.hub\.API\.STREAM\.CREATE\.>"/);
    assert.match(text, /"\$JS\.dev-1\.API\.\$KV\.>"/);
    assert.match(text, /"\$JS\.hub\.API\.DIRECT\.>"/);
  });
  it("given credentials, TLS paths and a domain, then the paths resolve against the config folder and the domain is used", () => {
    const text = leafServerConfig({ device: "dev-1", port: 1, monitorPort: 2, storeDir: "/s", configDir: "/etc/vigil", fleet: fleet({ hub: "tls://hub:7422", credentials: "leaf.creds", tls: { ca: "ca.pem" }, domain: "plant-7" }) });
    assert.match(text, /credentials: "\/etc\/vigil\/leaf\.creds"/);
    assert.match(text, /tls \{ ca_file: "\/etc\/vigil\/ca\.pem" \}/);
    assert.match(text, /domain: "plant-7"/);
  });
});

describe("fleet uplink: reporting the leaf connection", () => {
  const at = (s: number) => s * 1000;
  const run = (obs: Array<{ connected: boolean; error?: string }>) => {
    let s: UplinkState = initialUplinkState(0);
    const changes = [];
    for (const [i, o] of obs.entries()) {
      const r = decideUplink(s, { at: at(i + 1), ...o });
      s = r.state;
      if (r.change) changes.push(r.change);
    }
    return changes;
  };
  it("given a connection at the first check, then connected is reported once", () => {
    assert.deepEqual(run([{ connected: true }, { connected: true }]), [{ state: "connected", previousMs: undefined }]);
  });
  it("given a slow first connect, then nothing is reported until it connects", () => {
    assert.deepEqual(run([{ connected: false }, { connected: true }]), [{ state: "connected", previousMs: undefined }]);
  });
  it("given an authorization error, then disconnected is reported at once with the error, once, and connected later with how long it was down", () => {
    assert.deepEqual(run([{ connected: false, error: "Leafnode Error 'Authorization Violation'" }, { connected: false, error: "again" }, { connected: true }]), [
      { state: "disconnected", error: "Leafnode Error 'Authorization Violation'", previousMs: undefined },
      { state: "connected", previousMs: 2000 },
    ]);
  });
  it("given a link that stays down without an error line, then it is reported down on the second check", () => {
    assert.deepEqual(run([{ connected: true }, { connected: false }, { connected: false }]), [
      { state: "connected", previousMs: undefined },
      { state: "disconnected", error: "no leaf connection to the hub", previousMs: 2000 },
    ]);
  });
  it("given a server log, then the last leafnode error is found, without lid noise or credentials", () => {
    const log = [
      "[1] 2026/11/23 19:00:08.215968 [INF] 127.0.0.1:7422 - lid:4 - Leafnode connection created for account: $G",
      "[1] 2026/11/23 19:00:08.216478 [ERR] 127.0.0.1:7422 - lid:4 - Leafnode Error 'Authorization Violation'",
      "[1] 2026/11/23 19:00:09.1 [ERR] Error trying to connect as leafnode to remote server \"nats-leaf://leaf:pw@127.0.0.1:7422\" (attempt 2): dial tcp: connection refused",
      "[1] 2026/11/23 19:00:09.2 [ERR] something else",
    ].join("\n");
    assert.equal(lastLeafError(log), 'Error trying to connect as leafnode to remote server "nats-leaf://***@127.0.0.1:7422" (attempt 2): dial tcp: connection refused');
    assert.equal(lastLeafError(log.split("\n").slice(0, 2).join("\n")), "127.0.0.1:7422: Leafnode Error 'Authorization Violation'");
    assert.equal(lastLeafError("[INF] all good"), undefined);
  });
});
