/**
 * One alert per episode: after an alert, further flagged samples within `refractorySamples` are held
 * back. A detector's rule flickers around its threshold while a metric misbehaves (on 5-minute real
 * series one incident flags, clears and flags again for hours); each flicker would otherwise be a new
 * alert, and a false alarm repeated ten times is ten false alarms to whoever reads them. A problem
 * that lasts longer than the period is reported again once per period, so it is never silenced.
 */
export class RefractoryGate {
  /** Samples since the last alert let through (Infinity: none yet). */
  private since = Infinity;

  constructor(private readonly refractorySamples: number) {
    if (!Number.isInteger(refractorySamples) || refractorySamples < 0) throw new Error(`refractorySamples must be a whole number ≥ 0, got ${refractorySamples}`);
  }

  /** Call once per sample, in order, with whether a rule flagged it; true when it is to be reported. */
  admit(flagged: boolean): boolean {
    this.since++;
    if (!flagged || this.since <= this.refractorySamples) return false;
    this.since = 0;
    return true;
  }
}

/** The gate over a whole series of flags (the benchmark applies the same rule the service runs). */
export function gateAlerts(flags: readonly boolean[], refractorySamples: number): boolean[] {
  const gate = new RefractoryGate(refractorySamples);
  return flags.map((f) => gate.admit(f));
}
