import { healthOf, type DeciderState, type HealthView } from "@vigil/events";

export const OVERHEAT = "overheat";

/**
 * The overheat slice: `state.health.overheat`, set while the device is above its temperature
 * threshold — the line it must fall below, the incident, and the workers this policy paused
 * (what it resumes). Undefined (initial) while the device is cool.
 */
export type OverheatState = NonNullable<HealthView["overheat"]>;
export const initialOverheat: OverheatState | undefined = undefined;

export const overheatOf = (s: DeciderState): OverheatState | undefined => healthOf(s).overheat;
