import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ThermalReading {
  /** The hottest zone that could be read, °C; null when none could. */
  tempC: number | null;
  zones: Array<{ zone: string; tempC: number }>;
  /** Files that exist but hold no temperature (garbage, unreadable), with the reason. */
  problems: Array<{ path: string; error: string }>;
  /** The directory has no thermal_zone*\/temp at all (e.g. a VM): use the fallback. */
  missing: boolean;
}

const MILLIDEGREES = /^-?\d{1,7}$/;

/** Parses one `temp` file: an integer in millidegrees Celsius. Throws with a reason for anything else. */
export function parseMillidegrees(text: string): number {
  const t = text.trim();
  if (!MILLIDEGREES.test(t)) throw new Error(`not a temperature in millidegrees Celsius: ${JSON.stringify(t.slice(0, 40))}`);
  const c = Number(t) / 1000;
  if (c < -273.15 || c > 500) throw new Error(`implausible temperature ${c} °C`);
  return c;
}

/** Reads sysfs-style thermal zones: `<dir>/thermal_zone<N>/temp`. Never throws. */
export function readThermalZones(dir: string): ThermalReading {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^thermal_zone\d+$/.test(n));
  } catch {
    return { tempC: null, zones: [], problems: [], missing: true };
  }
  const zones: ThermalReading["zones"] = [];
  const problems: ThermalReading["problems"] = [];
  let present = 0;
  for (const zone of names.sort()) {
    const path = join(dir, zone, "temp");
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      present++;
      problems.push({ path, error: `cannot read: ${code ?? (err as Error).message}` });
      continue;
    }
    present++;
    try {
      zones.push({ zone, tempC: parseMillidegrees(text) });
    } catch (err) {
      problems.push({ path, error: (err as Error).message });
    }
  }
  const tempC = zones.length ? Math.max(...zones.map((z) => z.tempC)) : null;
  return { tempC, zones, problems, missing: present === 0 };
}
