import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMillidegrees, readThermalZones } from "./thermal.js";

function zones(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-thermal-"));
  for (const [zone, text] of Object.entries(files)) {
    mkdirSync(join(dir, zone));
    writeFileSync(join(dir, zone, "temp"), text);
  }
  return dir;
}

describe("thermal zone reader", () => {
  it("given zones in millidegrees, then the hottest one is the temperature, in °C", () => {
    const dir = zones({ thermal_zone0: "45000\n", thermal_zone1: "80500\n", cooling_device0: "x" });
    try {
      const r = readThermalZones(dir);
      assert.equal(r.tempC, 80.5);
      assert.deepEqual(r.zones.map((z) => z.zone), ["thermal_zone0", "thermal_zone1"]);
      assert.deepEqual(r.problems, []);
      assert.equal(r.missing, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("given a zone file with garbage, then it is reported as a problem naming the file, and the other zones still count", () => {
    const dir = zones({ thermal_zone0: "banana", thermal_zone1: "50000" });
    try {
      const r = readThermalZones(dir);
      assert.equal(r.tempC, 50);
      assert.equal(r.problems.length, 1);
      assert.equal(r.problems[0]!.path, join(dir, "thermal_zone0", "temp"));
      assert.match(r.problems[0]!.error, /not a temperature in millidegrees Celsius: "banana"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("given only garbage, then there is no temperature (null), not a made-up one; given no directory, it is missing (fallback)", () => {
    const dir = zones({ thermal_zone0: "" });
    try {
      assert.equal(readThermalZones(dir).tempC, null);
      assert.equal(readThermalZones(dir).missing, false);
      assert.equal(readThermalZones(join(dir, "nope")).missing, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses implausible or fractional values", () => {
    assert.throws(() => parseMillidegrees("45.5"), /not a temperature/);
    assert.throws(() => parseMillidegrees("9999999"), /implausible/);
    assert.equal(parseMillidegrees(" -5000 \n"), -5);
  });
});
