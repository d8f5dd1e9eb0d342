/**
 * The detectors scored on labelled series (bench/src/nab-eval.ts): three baselines and Vigil's own.
 * Each one is split in two so tuning is cheap: `score` runs the model once per structural setting
 * (a window length, a training span) and returns per-sample scores; `alerts` turns scores into alerts
 * for one threshold setting. Every detector learns only from what came before each sample; the first
 * `from` samples (NAB's probationary 15 %) are its warm-up and are not scored.
 */
import { AnomalyDetector, gateAlerts, type FeatureSpec } from "@vigil/health";

export interface Detector<S, T> {
  name: string;
  /** Structural settings: one model run each. */
  structures: S[];
  /** Threshold settings, applied to a run's scores. */
  thresholds: T[];
  score(values: readonly number[], from: number, s: S): number[][];
  alerts(scores: number[][], t: T): boolean[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const std = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length));
};

/** A static threshold: k standard deviations from the warm-up's mean (above, below or either side). */
export const staticThreshold: Detector<"upper" | "lower" | "both", number> = {
  name: "static threshold",
  structures: ["upper", "lower", "both"],
  thresholds: [1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15],
  score(values, from, side) {
    const warm = values.slice(0, from);
    const m = mean(warm);
    const s = Math.max(std(warm), 1e-9);
    return [values.map((x) => (side === "upper" ? (x - m) / s : side === "lower" ? (m - x) / s : Math.abs(x - m) / s))];
  },
  alerts: ([z], k) => z!.map((v) => v >= k),
};

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** Rolling z-score (mean, std) or robust z (median, MAD) of each sample against the `window` samples before it. */
export const rollingZ: Detector<{ kind: "z" | "mad"; window: number }, number> = {
  name: "rolling z-score / MAD",
  structures: [12, 48, 288].flatMap((window) => [{ kind: "z" as const, window }, { kind: "mad" as const, window }]),
  thresholds: [2, 3, 4, 5, 6, 8, 10, 15, 20],
  score(values, from, { kind, window }) {
    const floor = 1e-3 * Math.max(1e-9, std(values.slice(0, from)));
    return [
      values.map((x, i) => {
        if (i < window) return 0;
        const w = values.slice(i - window, i);
        if (kind === "z") return Math.abs(x - mean(w)) / Math.max(std(w), floor);
        const sorted = [...w].sort((a, b) => a - b);
        const med = median(sorted);
        const mad = median(sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
        return Math.abs(x - med) / Math.max(1.4826 * mad, floor);
      }),
    ];
  },
  alerts: ([z], k) => z!.map((v) => v >= k),
};

/**
 * Netdata's ML detector, as documented: each sample becomes a vector of the last 6 first differences
 * (diff 1, smoothed over 3, lag 5); k-means with 2 clusters is trained on the last `trainSamples`
 * samples and retrained every `retrainEvery`; the anomaly score is the distance to the nearest centroid,
 * normalised by the training distances' min and max (1 = the farthest training point); a sample is
 * anomalous at or above the threshold (Netdata's default is 0.99).
 */
export const kmeansDistance: Detector<{ trainSamples: number }, number> = {
  name: "Netdata-style k-means distance",
  structures: [288, 864, 2016].map((trainSamples) => ({ trainSamples })),
  thresholds: [0.9, 0.99, 1, 1.1, 1.25, 1.5, 2, 3, 5],
  score(values, from, { trainSamples }) {
    const feats = netdataFeatures(values);
    const out = new Array<number>(values.length).fill(0);
    let model: { centers: number[][]; min: number; max: number } | undefined;
    const retrainEvery = 288;
    for (let i = 0; i < values.length; i++) {
      if (i >= from && (model === undefined || (i - from) % retrainEvery === 0)) model = trainKmeans(feats.slice(Math.max(8, i - trainSamples), i).filter((f): f is number[] => f !== undefined));
      const f = feats[i];
      if (!model || !f) continue;
      out[i] = (nearest(model.centers, f) - model.min) / Math.max(1e-12, model.max - model.min);
    }
    return [out];
  },
  alerts: ([s], t) => s!.map((v) => v >= t),
};

function netdataFeatures(values: readonly number[]): Array<number[] | undefined> {
  const diff = values.map((x, i) => (i === 0 ? 0 : x - values[i - 1]!));
  const smooth = diff.map((_, i) => (i < 3 ? 0 : (diff[i]! + diff[i - 1]! + diff[i - 2]!) / 3));
  return smooth.map((_, i) => (i < 8 ? undefined : [0, 1, 2, 3, 4, 5].map((l) => smooth[i - l]!)));
}

const dist = (a: readonly number[], b: readonly number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0));
const nearest = (centers: number[][], f: readonly number[]) => Math.min(...centers.map((c) => dist(c, f)));

function trainKmeans(points: number[][], k = 2, iterations = 10): { centers: number[][]; min: number; max: number } {
  // Deterministic start: the first point and the one farthest from it.
  let centers = [points[0]!, points.reduce((far, p) => (dist(p, points[0]!) > dist(far, points[0]!) ? p : far), points[0]!)].slice(0, k);
  for (let it = 0; it < iterations; it++) {
    const sums = centers.map(() => ({ n: 0, s: new Array<number>(points[0]!.length).fill(0) }));
    for (const p of points) {
      let best = 0;
      centers.forEach((c, j) => (dist(c, p) < dist(centers[best]!, p) ? (best = j) : undefined));
      sums[best]!.n++;
      p.forEach((v, d) => (sums[best]!.s[d]! += v));
    }
    centers = sums.map((x, j) => (x.n ? x.s.map((v) => v / x.n) : centers[j]!));
  }
  const ds = points.map((p) => nearest(centers, p));
  return { centers, min: Math.min(...ds), max: Math.max(...ds) };
}

/**
 * Vigil's detector (services/health: isolation forest over derived features, the novelty rule and the
 * range rule, one alert per episode) at the shipped forest settings. A small grid on purpose: the
 * earlier one (9,555 settings) reached training F1 0.68 and held-out 0.28.
 *  - features: "value" (the metric alone), "level" (value, std8, drift32), "residual" (value, value −
 *    median of the day before, change over the last hour: features.ts' resid288 and lagdiff12);
 *  - baseline: the range rule's reference — the forest's window (720 samples, 2.5 days) or the whole
 *    series so far (`baselineSamples: 0`, NAB's way: each series' first part is its learned normal and
 *    the baseline keeps growing), so a weekly swing the window forgot is not an anomaly every week.
 * The delta and frozen-counter features stay out: on 5-minute real series quantised values repeat and
 * single steps are noisy, so both fired outside every window.
 */
type VigilStructure = { features: "value" | "level" | "residual"; baselineSamples: "window" | 0 };

const vigilFeatures = (f: VigilStructure["features"]): FeatureSpec[] =>
  f === "value"
    ? [{ metric: "value", kind: "value" }]
    : f === "level"
      ? [{ metric: "value", kind: "value" }, { metric: "value", kind: "std8" }, { metric: "value", kind: "drift32" }]
      : [{ metric: "value", kind: "value" }, { metric: "value", kind: "resid", window: 288 }, { metric: "value", kind: "lagdiff", window: 12 }];

/** threshold: the forest rule (0.99: practically off, the range rule alone); refractory 288 = a day of 5-minute samples. */
type VigilThreshold = { threshold: number; rangeMargin: number; refractorySamples: number };

export function vigilDetector(settings: { warmupSamples: number; windowSamples: number; retrainEvery: number; trees: number }): Detector<VigilStructure, VigilThreshold> {
  return {
    name: "Vigil (isolation forest + range rule on a per-series baseline, one alert per episode)",
    structures: [
      { features: "value", baselineSamples: "window" },
      { features: "level", baselineSamples: "window" },
      { features: "value", baselineSamples: 0 },
      { features: "level", baselineSamples: 0 },
      { features: "residual", baselineSamples: 0 },
    ],
    thresholds: [144, 288, 576].flatMap((refractorySamples) => [0.7, 0.8, 0.99].flatMap((threshold) => [0, 0.1, 0.25, 0.5].map((rangeMargin) => ({ threshold, rangeMargin, refractorySamples })))),
    score(values, from, { features, baselineSamples }) {
      const d = new AnomalyDetector(
        ["value"],
        {
          ...settings,
          warmupSamples: Math.max(settings.warmupSamples, Math.min(from, settings.windowSamples)),
          threshold: 0.99,
          noveltyZ: 0,
          refractorySamples: 0,
          ...(baselineSamples === "window" ? {} : { baselineSamples }),
        },
        vigilFeatures(features),
      );
      const score: number[] = [];
      const excess: number[] = [];
      for (const x of values) {
        const s = d.push([x]);
        score.push(s?.score ?? 0);
        excess.push(s?.rangeExcess ?? 0);
      }
      return [score, excess];
    },
    // The rules as AnomalyDetector applies them (noveltyZ 0), then its refractory gate (the same class),
    // so a tuned setting scores exactly what the service would report with it.
    alerts: ([score, excess], t) =>
      gateAlerts(
        score!.map((s, i) => s >= t.threshold || excess![i]! > t.rangeMargin),
        t.refractorySamples,
      ),
  };
}
