import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, generateOperatorKey, parseConfig, signDocument } from "@vigil/events";
import { deploymentDir, desiredDeploymentFile, withDeployment } from "./deployment.js";

const log = createLogger("test", "silent");
const key = generateOperatorKey();

/** A device config with local workers and containers, and a signed deployment waiting in its data dir. */
function deviceWith(local: { workers?: object[]; containers?: object[] }, deployed: { workers?: object[]; containers?: object[] }) {
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-deployment-"));
  const config = parseConfig({ device: "dev-1", dataDir, fleet: { hub: "nats-leaf://127.0.0.1:7422", trust: [key.publicKey], pinned: ["safety"] }, ...local }, { env: {} });
  mkdirSync(deploymentDir(dataDir), { recursive: true });
  writeFileSync(desiredDeploymentFile(dataDir), JSON.stringify(signDocument({ version: 2, target: { devices: ["dev-1"] }, ...deployed }, key.privatePem)));
  return config;
}

describe("the supervisor's view of a deployment (withDeployment)", () => {
  it("given local containers and a deployment with containers, then they merge by name like workers: a deployed one replaces the local one of its name, new ones are added, the others stay", () => {
    const config = deviceWith({ containers: [{ name: "cam", image: "cam:1" }, { name: "plc", image: "plc:1" }] }, { containers: [{ name: "cam", image: "cam:2" }, { name: "ocr", image: "ocr:1" }] });
    const merged = withDeployment(config, log);
    assert.deepEqual(merged.containers.map((c) => `${c.name} ${c.image}`), ["cam cam:2", "plc plc:1", "ocr ocr:1"]);
    assert.equal(merged.containers[2]!.stopGraceMs, 5_000, "with the schema's defaults");
  });

  it("given a deployment that turns a local worker into a container of the same name, then the local config runs alone", () => {
    const config = deviceWith({ workers: [{ name: "filter", command: "sleep", args: ["60"] }] }, { containers: [{ name: "filter", image: "filter:1" }] });
    const merged = withDeployment(config, log);
    assert.deepEqual(merged.containers, []);
    assert.deepEqual(merged.workers.map((w) => w.name), ["filter"]);
  });

  it("given a deployment that changes a pinned container, then the supervisor refuses it too: the local config runs alone", () => {
    const config = deviceWith({ containers: [{ name: "safety", image: "safety:1" }] }, { containers: [{ name: "safety", image: "safety:evil" }] });
    assert.deepEqual(withDeployment(config, log).containers.map((c) => c.image), ["safety:1"]);
  });
});
