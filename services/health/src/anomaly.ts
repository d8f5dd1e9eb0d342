import { IsolationForest } from "ml-isolation-forest";
import { RefractoryGate } from "./alert-episodes.js";
import { featureNames, FeatureExtractor, type FeatureSpec } from "./features.js";
import { RollingRange } from "./rolling-range.js";

export interface AnomalySettings {
  warmupSamples: number;
  windowSamples: number;
  retrainEvery: number;
  threshold: number;
  trees: number;
  /** Also anomalous: a feature this many standard deviations from its training mean (0: off). */
  noveltyZ: number;
  /**
   * Also anomalous: a feature outside its training [min, max] by more than this share of that range
   * (undefined: off). Heavy-tailed real series (NAB) put ordinary samples many standard deviations
   * out, so "more extreme than anything in the window" is the sharper test of what the forest cannot see.
   */
  rangeMargin?: number;
  /**
   * The range rule's baseline: [min, max] over the last this many samples (0: every sample since the
   * detector started); undefined: the forest's training window. Longer than the window, it remembers
   * the swings the window has forgotten (rolling-range.ts).
   */
  baselineSamples?: number;
  /**
   * One alert per episode: after a reported anomaly, flagged samples in the next this many samples
   * are not reported (`anomalous` false, `held` true); 0 or undefined reports every flagged sample.
   */
  refractorySamples?: number;
}

/** The features the health service scores (docs/health.md; chosen with the health benchmark). */
export const DEFAULT_FEATURES: FeatureSpec[] = [
  { metric: "cpuPct", kind: "value" },
  { metric: "cpuPct", kind: "std8" },
  { metric: "memPct", kind: "value" },
  { metric: "memPct", kind: "drift32" },
  { metric: "tempC", kind: "value" },
  { metric: "workerCpuPct", kind: "value" },
  { kind: "frozen" },
];

export interface Scored {
  /** Isolation Forest score, 0..1 (~0.5 ordinary). */
  score: number;
  /** The feature furthest from its training mean, and by how many standard deviations. */
  feature: string;
  deviation: number;
  /** How far the sample's most out-of-range feature lies beyond its training [min, max], as a share of that range (0 inside). */
  rangeExcess: number;
  /** score ≥ threshold, |deviation| ≥ noveltyZ, or rangeExcess > rangeMargin, and not held back by the refractory period. */
  anomalous: boolean;
  /** A rule flagged the sample but it fell within the refractory period after the last reported anomaly. */
  held?: boolean;
  /** Which rule flagged it. */
  by?: "forest" | "novelty" | "range";
}

/**
 * Isolation Forest over a rolling window: collect `warmupSamples` as the baseline, train, then score
 * every sample; retrain every `retrainEvery` samples on the last `windowSamples` samples. Every sample
 * enters the window, so recurring harmless peaks (a nightly job) become ordinary.
 *
 * An isolation forest cannot extrapolate: its splits lie between the training minimum and maximum,
 * so a value far outside that range scores like the most extreme training sample. The novelty rule
 * (|z| ≥ noveltyZ against the training window) covers that blind spot; `by` says which rule fired.
 */
export class AnomalyDetector {
  private readonly extractor: FeatureExtractor;
  private readonly names: string[];
  private window: number[][] = [];
  private forest: IsolationForest | undefined;
  private stats: { mean: number[]; std: number[]; min: number[]; max: number[] } | undefined;
  private sinceTrain = 0;
  private readonly gate: RefractoryGate;
  private readonly baseline: RollingRange | undefined;

  constructor(
    metrics: readonly string[],
    private readonly s: AnomalySettings,
    features: readonly FeatureSpec[] = DEFAULT_FEATURES,
  ) {
    this.extractor = new FeatureExtractor(metrics, features);
    this.names = featureNames(features);
    this.gate = new RefractoryGate(s.refractorySamples ?? 0);
    this.baseline = s.baselineSamples === undefined ? undefined : new RollingRange(s.baselineSamples);
  }

  get trained(): boolean {
    return this.forest !== undefined;
  }

  /** Scores one sample (undefined during warm-up). */
  push(values: readonly number[]): Scored | undefined {
    const f = this.extractor.push(values);
    let scored: Scored | undefined;
    if (this.forest && this.stats) {
      const score = this.forest.predict([f])[0] ?? 0;
      let best = 0;
      let dev = 0;
      f.forEach((v, i) => {
        const z = (v - (this.stats!.mean[i] ?? 0)) / (this.stats!.std[i] ?? 1);
        if (Math.abs(z) > Math.abs(dev)) {
          dev = z;
          best = i;
        }
      });
      const rangeExcess = this.rangeExcess(f);
      const byForest = score >= this.s.threshold;
      const byNovelty = this.s.noveltyZ > 0 && Math.abs(dev) >= this.s.noveltyZ;
      const byRange = this.s.rangeMargin !== undefined && rangeExcess > this.s.rangeMargin;
      const flagged = byForest || byNovelty || byRange;
      const reported = this.gate.admit(flagged);
      scored = {
        score,
        feature: this.names[best] ?? "?",
        deviation: Math.max(-1e6, Math.min(1e6, dev)),
        rangeExcess: Math.min(1e6, rangeExcess),
        anomalous: reported,
        ...(flagged && !reported ? { held: true } : {}),
        ...(byForest ? { by: "forest" as const } : byNovelty ? { by: "novelty" as const } : byRange ? { by: "range" as const } : {}),
      };
    }
    this.window.push(f);
    this.baseline?.push(f);
    if (this.window.length > this.s.windowSamples) this.window.shift();
    this.sinceTrain++;
    if ((!this.forest && this.window.length >= this.s.warmupSamples) || (this.forest && this.sinceTrain >= this.s.retrainEvery)) this.train();
    return scored;
  }

  /** The largest excess of any feature beyond its training range, relative to that range. */
  private rangeExcess(f: readonly number[]): number {
    const { min, max } = this.stats!;
    let worst = 0;
    f.forEach((v, i) => {
      const lo = min[i]!;
      const hi = max[i]!;
      const span = Math.max(hi - lo, 1e-9 * Math.max(1, Math.abs(hi)));
      const out = v > hi ? (v - hi) / span : v < lo ? (lo - v) / span : 0;
      if (out > worst) worst = out;
    });
    return worst;
  }

  private train(): void {
    // A fresh forest each time: the library appends trees on every train() call.
    const forest = new IsolationForest({ nEstimators: this.s.trees });
    forest.train(this.window);
    this.forest = forest;
    const n = this.window.length;
    const dims = this.window[0]?.length ?? 0;
    const mean = new Array<number>(dims).fill(0);
    const std = new Array<number>(dims).fill(0);
    for (const row of this.window) row.forEach((v, i) => (mean[i]! += v / n));
    const min = new Array<number>(dims).fill(Infinity);
    const max = new Array<number>(dims).fill(-Infinity);
    for (const row of this.window)
      row.forEach((v, i) => {
        std[i]! += (v - mean[i]!) ** 2 / n;
        if (v < min[i]!) min[i] = v;
        if (v > max[i]!) max[i] = v;
      });
    // A floor on the spread: a feature that never moved in training still gets a finite z-score.
    // The range rule's bounds: the longer baseline when one is set (rolling-range.ts), else the training window's.
    const bounds = this.baseline ? this.baseline.bounds() : { min, max };
    this.stats = { mean, std: std.map((v, i) => Math.max(Math.sqrt(v), 1e-3 * Math.max(1, Math.abs(mean[i]!)))), ...bounds };
    this.sinceTrain = 0;
  }
}
