import type { Threshold } from "@vigil/events";

export type Level = "normal" | "crossed";
export type Transition = "crossed" | "recovered" | undefined;

/**
 * Hysteresis: crossed when the value reaches `above`; recovered only once it falls below
 * `recoverBelow`. A missing value (no sensor) changes nothing.
 */
export function stepThreshold(level: Level, value: number | null, t: Threshold): { level: Level; transition: Transition } {
  if (value === null || !Number.isFinite(value)) return { level, transition: undefined };
  if (level === "normal" && value >= t.above) return { level: "crossed", transition: "crossed" };
  if (level === "crossed" && value < t.recoverBelow) return { level: "normal", transition: "recovered" };
  return { level, transition: undefined };
}

/** One tracker per watched key (temperature, cpu, memory, disk:/mount). */
export class ThresholdTracker {
  private readonly levels = new Map<string, Level>();

  step(key: string, value: number | null, t: Threshold): Transition {
    const r = stepThreshold(this.levels.get(key) ?? "normal", value, t);
    this.levels.set(key, r.level);
    return r.transition;
  }

  level(key: string): Level {
    return this.levels.get(key) ?? "normal";
  }
}
