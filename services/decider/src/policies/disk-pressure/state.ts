import { ownEntry, withEntry, type DeciderState, type DiskPressureView } from "@vigil/events";

export const DISK_PRESSURE = "disk-pressure";

/**
 * The disk-pressure slice: `state.disk`, one entry per mount above its threshold — the steps taken
 * in its incident (prune logs, downsample telemetry, pause writers), what the undo gives back, and
 * who writes the most (the supervisor's latest prune). Absent (initial) while every disk is fine.
 */
export type DiskState = Record<string, DiskPressureView>;
export const initialDisk: DiskState | undefined = undefined;

export const diskOf = (s: DeciderState, mount: string): DiskPressureView | undefined => ownEntry(s.disk, mount);

export function withDisk(s: DeciderState, mount: string, f: (d: DiskPressureView | undefined) => DiskPressureView | undefined): DeciderState {
  const next = f(diskOf(s, mount));
  if (next) return { ...s, disk: withEntry(s.disk, mount, next) };
  const { [mount]: _gone, ...rest } = s.disk ?? {};
  return { ...s, disk: Object.fromEntries(Object.entries(rest)) };
}
