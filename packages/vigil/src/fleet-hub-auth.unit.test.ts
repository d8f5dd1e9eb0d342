import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { deviceHubPermissions, hubAuthorizationBlock, hubUsers } from "./fleet-hub-auth.js";

describe("fleet: one hub user per device", () => {
  it("given dev-1, then it may create only the consumer of its own deployment subject and deliver only its own events", () => {
    const p = deviceHubPermissions("dev-1", "hub");
    assert.ok(p.publish.allow.includes("$JS.hub.API.CONSUMER.CREATE.VIGIL_DEPLOY.*.deploy.dev-1"));
    assert.ok(p.publish.allow.includes("uplink.dev-1.>"));
    assert.equal(p.publish.allow.filter((s) => s.includes("dev-2") || s === "$JS.hub.API.CONSUMER.CREATE.VIGIL_DEPLOY" || s.startsWith("deploy.") || s.startsWith("vigil.")).length, 0);
    assert.ok(!p.subscribe.allow.includes("_INBOX.>"), "never every reply on the hub");
    assert.deepEqual(p.subscribe.allow.filter((s) => s.includes("dev-1")), ["downlink.dev-1.>", "_INBOX_dev-1.>", "fleet.remote.dev-1", "$JS.dev-1.API.>"]);
  });
  it("given three devices, then the block has the operator without permissions and each device with its own", () => {
    const users = hubUsers(["dev-1", "dev-2", "dev-3"], "hub", (u) => `pw-${u}`);
    assert.deepEqual(users.map((u) => [u.user, u.pass, !!u.permissions]), [["operator", "pw-operator", false], ["dev-1", "pw-dev-1", true], ["dev-2", "pw-dev-2", true], ["dev-3", "pw-dev-3", true]]);
    const block = hubAuthorizationBlock(users);
    assert.match(block, /\{ user: "operator", password: "pw-operator" \}/);
    assert.match(block, /user: "dev-2", password: "pw-dev-2", permissions/);
    assert.match(block, /"fleet\.remote\.dev-3"/);
  });
});
