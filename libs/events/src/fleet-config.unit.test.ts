import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.js";

describe("config: the fleet section", () => {
  it("given no fleet section, then there is no uplink", () => {
    assert.equal(parseConfig({}, { env: {} }).fleet, undefined);
  });
  it("given a hub URL (or a list) with user and pass, then it is kept as a list with defaults; VIGIL_FLEET_HUB sets it", () => {
    const c = parseConfig({ fleet: { hub: "nats-leaf://hub.example.com:7422", user: "leaf", pass: "p" } }, { env: {} });
    assert.deepEqual(c.fleet, { hub: ["nats-leaf://hub.example.com:7422"], user: "leaf", pass: "p", checkSeconds: 5, monitorPort: 0, hubDomain: "hub", trust: [], pinned: [], acceptDeployments: true });
    assert.deepEqual(parseConfig({ fleet: { hub: ["tls://a:7422", "tls://b:7422"] } }, { env: {} }).fleet?.hub, ["tls://a:7422", "tls://b:7422"]);
    assert.deepEqual(parseConfig({}, { env: { VIGIL_FLEET_HUB: "nats-leaf://h:7422" } }).fleet?.hub, ["nats-leaf://h:7422"]);
  });
  it("given a bad URL, credentials in the URL, half a user/pass or cert/key pair, both auth kinds, or an unknown key, then the error names the field", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ hub: "http://hub:7422" }, /fleet\.hub: must be a leafnode URL/],
      [{ hub: "nats-leaf://leaf:secret@hub:7422" }, /fleet\.hub: must not hold credentials/],
      [{ hub: "nats-leaf://hub" }, /fleet\.hub: must name a host and a port/],
      [{ hub: [] }, /fleet\.hub/],
      [{ hub: "nats-leaf://hub:7422", user: "leaf" }, /fleet\.pass: user and pass must be given together/],
      [{ hub: "nats-leaf://hub:7422", user: "u", pass: "p", credentials: "x.creds" }, /fleet\.credentials: use either credentials or user\/pass/],
      [{ hub: "nats-leaf://hub:7422", tls: { cert: "c.pem" } }, /fleet\.tls: cert and key must be given together/],
      [{ hub: "nats-leaf://hub:7422", domain: "a.b" }, /fleet\.domain/],
      [{ hub: "nats-leaf://hub:7422", url: "x" }, /fleet: Unrecognized key/i],
      [{ user: "u", pass: "p" }, /fleet\.hub/],
    ];
    for (const [fleet, msg] of cases) assert.throws(() => parseConfig({ fleet }, { env: {} }), (e: Error) => e instanceof ConfigError && msg.test(e.message), JSON.stringify(fleet));
  });
});
