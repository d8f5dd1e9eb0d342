import { IsolationForest } from "ml-isolation-forest";
import { featureNames, FeatureExtractor, type FeatureSpec } from "./features.js";

export interface AnomalySettings {
  warmupSamples: number;
  windowSamples: number;
  retrainEvery: number;
  threshold: number;
  trees: number;
  /** Also anomalous: a feature this many standard deviations from its training mean (0: off). */
  noveltyZ: number;
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
  /** score ≥ threshold, or |deviation| ≥ noveltyZ. */
  anomalous: boolean;
  /** Which rule flagged it. */
  by?: "forest" | "novelty";
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
  private stats: { mean: number[]; std: number[] } | undefined;
  private sinceTrain = 0;

  constructor(
    metrics: readonly string[],
    private readonly s: AnomalySettings,
    features: readonly FeatureSpec[] = DEFAULT_FEATURES,
  ) {
    this.extractor = new FeatureExtractor(metrics, features);
    this.names = featureNames(features);
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
      const byForest = score >= this.s.threshold;
      const byNovelty = this.s.noveltyZ > 0 && Math.abs(dev) >= this.s.noveltyZ;
      scored = {
        score,
        feature: this.names[best] ?? "?",
        deviation: Math.max(-1e6, Math.min(1e6, dev)),
        anomalous: byForest || byNovelty,
        ...(byForest ? { by: "forest" as const } : byNovelty ? { by: "novelty" as const } : {}),
      };
    }
    this.window.push(f);
    if (this.window.length > this.s.windowSamples) this.window.shift();
    this.sinceTrain++;
    if ((!this.forest && this.window.length >= this.s.warmupSamples) || (this.forest && this.sinceTrain >= this.s.retrainEvery)) this.train();
    return scored;
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
    for (const row of this.window) row.forEach((v, i) => (std[i]! += (v - mean[i]!) ** 2 / n));
    // A floor on the spread: a feature that never moved in training still gets a finite z-score.
    this.stats = { mean, std: std.map((v, i) => Math.max(Math.sqrt(v), 1e-3 * Math.max(1, Math.abs(mean[i]!)))) };
    this.sinceTrain = 0;
  }
}
