import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseConfig } from "./config.js";
import { NameSchema, RESERVED_NAMES } from "./names.js";
import { makeEvent } from "./codec.js";

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), "vigil-names-")), "vigil.yaml");
  writeFileSync(p, text);
  return p;
}

describe("names: built-in JavaScript property names are refused", () => {
  it("given __proto__, constructor or toString as a worker name in a config file, then loading fails naming the field and the reason", () => {
    for (const [i, name] of ["__proto__", "constructor", "toString"].entries()) {
      const text = `workers:\n  - name: ok\n    command: x\n  - name: ${name}\n    command: x\n`;
      assert.throws(
        () => loadConfig(file(text), {}),
        (err: Error) => err instanceof ConfigError && err.message.includes("workers[1].name") && err.message.includes(`"${name}" is reserved`),
        `${name} (case ${i})`,
      );
    }
  });

  it("given one as a container workload or the device name, then the config error names that field", () => {
    const container = { name: "valueOf", image: "alpine", vnics: [] };
    assert.throws(() => parseConfig({ containers: [container] }, { env: {} }), (err: Error) => err instanceof ConfigError && /containers\[0\]\.name/.test(err.message) && /"valueOf" is reserved/.test(err.message));
    assert.throws(() => parseConfig({ device: "hasOwnProperty" }, { env: {} }), (err: Error) => err instanceof ConfigError && /device/.test(err.message) && /reserved/.test(err.message));
  });

  it("given such a name in an event, then the event is invalid, naming the field", () => {
    assert.throws(
      () => makeEvent("d", "t", "obs.worker.exited", { worker: "__proto__", pid: 1, code: 1, signal: null, expected: false, uptimeMs: 1 }),
      /data\.worker: "__proto__" is reserved/,
    );
    assert.throws(() => makeEvent("d", "t", "obs.health.sample", { cpuPct: 1, load1: 0, memPct: 1, tempC: null, disks: [], workers: [{ worker: "constructor", pid: 1, cpuPct: 0, rssBytes: 1 }], intervalMs: 1 }), /data\.workers\.0\.worker: "constructor" is reserved/);
  });

  it("every name Object.prototype has is reserved; ordinary names (also near misses) pass", () => {
    for (const n of Object.getOwnPropertyNames(Object.prototype)) assert.ok(RESERVED_NAMES.has(n), n);
    for (const n of ["sensor", "proto", "_proto_", "Constructor", "tostring", "value-of"]) assert.equal(NameSchema.safeParse(n).success, true, n);
  });
});
