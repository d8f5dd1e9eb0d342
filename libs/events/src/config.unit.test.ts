import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseConfig } from "./config.js";

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), "vigil-cfg-")), "vigil.yaml");
  writeFileSync(p, text);
  return p;
}

describe("config", () => {
  it("fills defaults and resolves dataDir against the config file", () => {
    const p = file("device: gw-7\nworkers:\n  - name: sensor\n    command: node\n    args: [sensor.js]\n");
    const c = loadConfig(p, {});
    assert.equal(c.device, "gw-7");
    assert.equal(c.workers[0]?.restart.maxRestarts, 5);
    assert.equal(c.workers[0]?.essential, false);
    assert.ok(c.dataDir.startsWith(c.configDir));
    assert.equal(c.stream.name, "VIGIL");
  });

  it("lets VIGIL_* variables override the file", () => {
    const c = parseConfig({ device: "a", nats: { url: "nats://x:1" } }, { env: { VIGIL_DEVICE: "b", VIGIL_NATS_URL: "nats://y:2" } });
    assert.equal(c.device, "b");
    assert.equal(c.nats.url, "nats://y:2");
  });

  it("stream.setup: manage by default; VIGIL_STREAM_SETUP=wait (a service's own bus user) and a clear error for anything else", () => {
    assert.equal(parseConfig({}, { env: {} }).stream.setup, "manage");
    assert.equal(parseConfig({}, { env: { VIGIL_STREAM_SETUP: "wait" } }).stream.setup, "wait");
    assert.throws(() => parseConfig({}, { env: { VIGIL_STREAM_SETUP: "create" } }), /stream\.setup/);
  });

  it("names the field that is wrong", () => {
    const cases: Array<[string, RegExp]> = [
      ["workers:\n  - name: s\n", /workers\[0\]\.command/],
      ["workers:\n  - name: s\n    command: x\n    restart: { maxRestarts: 0 }\n", /workers\[0\]\.restart\.maxRestarts/],
      ["workers:\n  - name: s\n    command: x\n    comand: y\n", /workers\[0\].*comand/],
      ["device: 'has space'\n", /device/],
      ["workers:\n  - { name: a, command: x }\n  - { name: a, command: y }\n", /workers\[1\]\.name: duplicate worker name "a"/],
      ["- just\n- a list\n", /top level must be a mapping/],
      ["a: [unclosed\n", /not valid YAML/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => loadConfig(file(text), {}), (err: Error) => err instanceof ConfigError && re.test(err.message), text);
    }
  });

  // Found by the fuzzer (bench/src/fuzz-config.ts): an override into a section that is not a mapping threw a TypeError.
  it("names a section that is not a mapping even when a VIGIL_* variable overrides a field in it", () => {
    for (const [text, env, re] of [
      ["gateway: ''\n", { VIGIL_GATEWAY_PORT: "0" }, /gateway: .*expected object/],
      ["nats: x\n", { VIGIL_NATS_URL: "nats://127.0.0.1:1" }, /nats: .*expected object/],
      ["log: [1]\n", { VIGIL_LOG_LEVEL: "warn" }, /log: .*expected object/],
    ] as const) {
      assert.throws(() => loadConfig(file(text), env), (err: Error) => err instanceof ConfigError && re.test(err.message), text);
    }
  });

  it("says which file it could not read", () => {
    assert.throws(() => loadConfig("/nonexistent/vigil.yaml", {}), /cannot read config file \/nonexistent\/vigil.yaml: ENOENT/);
  });
});
