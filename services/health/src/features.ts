/**
 * Turns a stream of samples (a few named metrics) into feature vectors for the Isolation Forest.
 * Raw values alone only catch spikes; derived features make the other failure shapes stand out:
 *  - `value`   the metric itself (spikes, heat);
 *  - `delta`   x(t) − x(t−1) (sudden jumps);
 *  - `std8`    standard deviation over the last 8 samples (a stuck metric goes to 0);
 *  - `drift32` x(t) − mean of the 32 samples before (slow leaks under any static threshold);
 *  - `frozen`  how many samples in a row every metric has been exactly the same (a stuck reader);
 *  - `resid`   x(t) − median of the `window` samples before (default 32): a level shift or spike against
 *              the recent normal, robust to the outliers a mean absorbs (drift32 moves with each spike);
 *  - `lagdiff` x(t) − x(t − `window`) (default 8): a rate of change over several samples, so a ramp that is
 *              smooth step to step (each `delta` ordinary) still stands out.
 * Which ones are used is a list (DEFAULT_FEATURES), chosen with bench/src/health.bench.ts.
 */
export const SHORT = 8;
export const LONG = 32;

export type Derivation = "value" | "delta" | "std8" | "drift32";
/** Derivations over a window of the caller's choosing (samples; 5-minute real series want a day, 288). */
export type WindowedDerivation = "resid" | "lagdiff";
export type FeatureSpec = { metric: string; kind: Derivation } | { metric: string; kind: WindowedDerivation; window?: number } | { kind: "frozen" };

const DEFAULT_WINDOW: Record<WindowedDerivation, number> = { resid: LONG, lagdiff: SHORT };

/** The window of a windowed derivation (its default when unset); undefined for the others. */
function windowOf(f: FeatureSpec): number | undefined {
  return f.kind === "resid" || f.kind === "lagdiff" ? (f.window ?? DEFAULT_WINDOW[f.kind]) : undefined;
}

export function featureName(f: FeatureSpec): string {
  if (f.kind === "frozen") return "frozen";
  const w = windowOf(f);
  if (w !== undefined) return `${f.metric}.${f.kind}${w}`;
  return f.kind === "value" ? f.metric : `${f.metric}.${f.kind}`;
}

/** Every derivation of every metric (used to explore; the service uses DEFAULT_FEATURES). */
export function allFeatures(metrics: readonly string[]): FeatureSpec[] {
  return [...metrics.flatMap((metric) => (["value", "delta", "std8", "drift32"] as const).map((kind) => ({ metric, kind }))), { kind: "frozen" }];
}

export function featureNames(specs: readonly FeatureSpec[]): string[] {
  return specs.map(featureName);
}

export class FeatureExtractor {
  private readonly history: number[][] = [];
  private frozen = 0;
  private readonly index: Map<string, number>;
  /** Samples kept: the current one and the longest look-back any feature needs. */
  private readonly keep: number;

  constructor(
    readonly metrics: readonly string[],
    readonly specs: readonly FeatureSpec[],
  ) {
    this.index = new Map(metrics.map((m, i) => [m, i]));
    for (const s of specs) if (s.kind !== "frozen" && !this.index.has(s.metric)) throw new Error(`feature ${featureName(s)}: unknown metric ${s.metric}`);
    for (const s of specs) {
      const w = windowOf(s);
      if (w !== undefined && (!Number.isInteger(w) || w < 1)) throw new Error(`feature ${featureName(s)}: window must be a whole number ≥ 1, got ${w}`);
    }
    this.keep = Math.max(LONG, ...specs.map((s) => windowOf(s) ?? 0)) + 1;
  }

  /** Features of this sample given the ones before it (call once per sample, in order). */
  push(values: readonly number[]): number[] {
    const last = this.history[this.history.length - 1];
    this.frozen = last && values.every((v, i) => v === last[i]) ? this.frozen + 1 : 0;
    this.history.push([...values]);
    if (this.history.length > this.keep) this.history.shift();
    const n = this.history.length;
    return this.specs.map((s) => {
      if (s.kind === "frozen") return this.frozen;
      const m = this.index.get(s.metric)!;
      const x = values[m] ?? 0;
      switch (s.kind) {
        case "value":
          return x;
        case "delta":
          return n >= 2 ? x - (this.history[n - 2]![m] ?? x) : 0;
        case "std8": {
          const w = this.history.slice(-SHORT).map((h) => h[m] ?? 0);
          const mean = w.reduce((a, b) => a + b, 0) / w.length;
          return Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
        }
        case "drift32": {
          const before = this.history.slice(-LONG - 1, -1).map((h) => h[m] ?? 0);
          return before.length ? x - before.reduce((a, b) => a + b, 0) / before.length : 0;
        }
        case "resid": {
          const before = this.history.slice(-windowOf(s)! - 1, -1).map((h) => h[m] ?? 0);
          return before.length ? x - median(before) : 0;
        }
        case "lagdiff": {
          const w = windowOf(s)!;
          // Until w samples have passed, the oldest one stands in for x(t − w).
          return n >= 2 ? x - (this.history[Math.max(0, n - 1 - w)]![m] ?? x) : 0;
        }
      }
    });
  }
}

/** Median of a non-empty list (sorts a copy). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
}
