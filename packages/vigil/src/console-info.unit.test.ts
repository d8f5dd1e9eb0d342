import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@vigil/events";
import { consoleBanner } from "./console-info.js";

const config = (gateway: object) => parseConfig({ dataDir: mkdtempSync(join(tmpdir(), "vigil-banner-")), gateway }, { env: {} });

describe("consoleBanner: the console token only on a terminal", () => {
  it("given a terminal, then the link carries the local token in its #fragment", () => {
    const c = config({ port: 8080 });
    const line = consoleBanner(c, { tty: true });
    const token = readFileSync(join(c.dataDir, "gateway.token"), "utf8").trim();
    assert.ok(line.startsWith(`console http://127.0.0.1:8080/#token=${token}\n`), line);
  });

  it("given no terminal (journald, docker logs), then the address and the token file, never the token", () => {
    const c = config({ port: 8080 });
    const line = consoleBanner(c, { tty: false });
    const token = readFileSync(join(c.dataDir, "gateway.token"), "utf8").trim();
    assert.ok(!line.includes(token), line);
    assert.match(line, /^console http:\/\/127\.0\.0\.1:8080\/ \(sign in with the local operator token in .*gateway\.token; not printed here: stdout is not a terminal\)/);
    assert.ok(line.includes(join(c.dataDir, "gateway.token")));
  });

  it("given declared gateway.tokens, then no local token is mentioned either way", () => {
    const c = config({ port: 8080, tokens: [{ name: "alice", role: "operator", sha256: "0".repeat(64) }] });
    assert.equal(consoleBanner(c, { tty: true }), "console http://127.0.0.1:8080/ (sign in with a token from gateway.tokens)");
  });
});
