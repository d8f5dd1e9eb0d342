import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@vigil/events";
import { authorizationBlock, busUsers, credentialEnv, credsFile, plainServerConfig, readCredential, writeCredentials } from "./bus-auth.js";

const config = parseConfig({ device: "edge-1" }, { env: {} });

describe("bus-auth: the embedded server's users", () => {
  it("given the services, then admin plus one user each, with distinct random passwords and per-service inboxes", () => {
    const users = busUsers(config, ["supervisor", "health"]);
    assert.deepEqual(users.map((u) => u.user), ["admin", "supervisor", "health"]);
    assert.equal(new Set(users.map((u) => u.pass)).size, 3);
    assert.ok(users.every((u) => u.pass.length >= 32));
    assert.equal(users[0]!.permissions, undefined);
    assert.equal(users[2]!.inboxPrefix, "_INBOX_health");
  });

  it("the config block quotes every subject (so `$JS…` is not read as a variable) and gives admin no limits", () => {
    let n = 0;
    const users = busUsers(config, ["health"], () => `pw${n++}`);
    const block = authorizationBlock(users);
    assert.match(block, /\{ user: "admin", password: "pw0" \}/);
    assert.match(block, /user: "health", password: "pw1", permissions:/);
    assert.match(block, /"\$JS\.API\.STREAM\.INFO\.VIGIL"/);
    assert.match(block, /deny: \[[^\]]*"vigil\.\*\.cmd\.>"/);
    // Its own inbox, and the durability barrier's announcements (docs/durability.md).
    assert.match(block, /subscribe: \{ allow: \["_INBOX_health\.>", "\$VIGIL\.durable\.edge-1"\] \}/);
    const conf = plainServerConfig({ device: "edge-1", port: 4333, storeDir: "/data/nats", users });
    assert.match(conf, /listen: "127\.0\.0\.1:4333"/);
    assert.match(conf, /store_dir: "\/data\/nats"/);
    assert.ok(conf.includes(block));
  });

  it("credential files are 0600 in a 0700 folder, read back, and become the service's environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-creds-"));
    const users = busUsers(config, ["health"]);
    writeCredentials(dir, users);
    assert.equal(statSync(join(dir, "creds")).mode & 0o777, 0o700);
    assert.equal(statSync(credsFile(dir, "health")).mode & 0o777, 0o600);
    const c = readCredential(dir, "health");
    assert.deepEqual(c, { user: "health", pass: users[1]!.pass, inboxPrefix: "_INBOX_health" });
    assert.deepEqual(credentialEnv(c!), { VIGIL_NATS_USER: "health", VIGIL_NATS_PASS: users[1]!.pass, VIGIL_NATS_INBOX_PREFIX: "_INBOX_health" });
    assert.equal(readCredential(dir, "nobody"), undefined);
  });
});
