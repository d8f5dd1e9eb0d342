import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.js";
import { hashToken } from "./tokens.js";

describe("config: the gateway section", () => {
  it("given nothing, then the console listens on 127.0.0.1:8080 with no tokens (the local token is used)", () => {
    const c = parseConfig({}, { env: {} });
    assert.deepEqual([c.gateway.bind, c.gateway.port, c.gateway.tokens, c.gateway.maxFrameBytes], ["127.0.0.1", 8080, [], 65_536]);
  });
  it("given a token entry, then it is kept; VIGIL_GATEWAY_PORT overrides the port", () => {
    const t = { name: "alice", role: "operator", sha256: hashToken("x") };
    const c = parseConfig({ gateway: { tokens: [t] } }, { env: { VIGIL_GATEWAY_PORT: "9090" } });
    assert.deepEqual(c.gateway.tokens, [t]);
    assert.equal(c.gateway.port, 9090);
  });
  it("given a plain-text token, a bad role, a duplicate name, an origin with a path or an unknown key, then the error names the field", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ tokens: [{ name: "a", role: "operator", sha256: "secret" }] }, /gateway\.tokens\[0\]\.sha256: must be the 64 lower-case hex digits/],
      [{ tokens: [{ name: "a", role: "admin", sha256: hashToken("x") }] }, /gateway\.tokens\[0\]\.role/],
      [{ tokens: [{ name: "a", role: "viewer", sha256: hashToken("x") }, { name: "a", role: "viewer", sha256: hashToken("y") }] }, /gateway\.tokens\[1\]\.name: duplicate token name "a"/],
      [{ allowedOrigins: ["https://ops.example.com/console"] }, /gateway\.allowedOrigins\[0\]/],
      [{ port: 70000 }, /gateway\.port/],
      [{ token: "x" }, /gateway: Unrecognized key/i],
    ];
    for (const [gateway, msg] of cases) assert.throws(() => parseConfig({ gateway }, { env: {} }), (e: Error) => e instanceof ConfigError && msg.test(e.message), JSON.stringify(gateway));
  });
});
