/**
 * Scores anomaly detectors on a labelled dataset in NAB's layout (nab-data.ts), the NAB way
 * (nab-score.ts). The series are split in two (sorted by name, alternating: even → training, odd →
 * held out); each detector's settings are tuned for the best pooled F1 on the training series, then
 * frozen and run on the held-out ones. The first 15 % of every series is warm-up (NAB's probationary
 * period): each detector learns from it and nothing in it is scored.
 *
 *   node dist/nab-eval.js [DATASET_DIR]     (default /work/shared/datasets/nab; prints JSON)
 */
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseConfig } from "@vigil/events";
import { loadDataset, type LabelledSeries } from "./nab-data.js";
import { kmeansDistance, rollingZ, staticThreshold, vigilDetector, type Detector } from "./nab-detectors.js";
import { addScores, EMPTY_SCORE, f1, scoreWindows, type WindowScore } from "./nab-score.js";

export const DEFAULT_NAB_DIR = "/work/shared/datasets/nab";
export const PROBATION = 0.15;
export const NAB_RETRAIN_EVERY = 288;

export interface DetectorResult {
  name: string;
  /** The settings chosen on the training series (printed in the report). */
  chosen: unknown;
  train: { f1: number; precision: number; recall: number } & WindowScore;
  test: { f1: number; precision: number; recall: number } & WindowScore;
  perSeries: Array<{ name: string; windows: number; detected: number; falsePositives: number; f1: number }>;
  seconds: number;
  /** Settings scored on the training series (structures × thresholds). */
  gridSize: number;
}

export interface NabResult {
  dir: string;
  trainSeries: string[];
  testSeries: string[];
  samples: number;
  detectors: DetectorResult[];
}

const from = (s: LabelledSeries) => Math.floor(s.values.length * PROBATION);
const withF1 = (s: WindowScore) => ({ ...f1(s), ...s, delays: [] as number[] });

/** Tunes one detector on the training series, then scores it on the held-out ones. */
export function evaluateDetector<S, T>(d: Detector<S, T>, train: LabelledSeries[], test: LabelledSeries[]): DetectorResult {
  const t0 = performance.now();
  let best: { s: S; t: T; score: WindowScore; f1: number } | undefined;
  for (const s of d.structures) {
    const runs = train.map((series) => ({ series, scores: d.score(series.values, from(series), s) }));
    for (const t of d.thresholds) {
      const total = runs.reduce((acc, r) => addScores(acc, scoreWindows(r.series.times, d.alerts(r.scores, t), r.series.windows, from(r.series))), EMPTY_SCORE);
      const q = f1(total).f1;
      if (!best || q > best.f1) best = { s, t, score: total, f1: q };
    }
  }
  const perSeries: DetectorResult["perSeries"] = [];
  let total = EMPTY_SCORE;
  for (const series of test) {
    const sc = scoreWindows(series.times, d.alerts(d.score(series.values, from(series), best!.s), best!.t), series.windows, from(series));
    total = addScores(total, sc);
    perSeries.push({ name: series.name, windows: sc.windows, detected: sc.detected, falsePositives: sc.falsePositives, f1: f1(sc).f1 });
  }
  return { name: d.name, chosen: { structure: best!.s, threshold: best!.t }, train: withF1(best!.score), test: withF1(total), perSeries, seconds: Math.round((performance.now() - t0) / 100) / 10, gridSize: d.structures.length * d.thresholds.length };
}

export function evaluateNab(dir: string, progress: (m: string) => void = () => undefined): NabResult {
  const all = loadDataset(dir);
  if (all.length < 2) throw new Error(`${dir}: need at least 2 labelled series to split, found ${all.length}`);
  const train = all.filter((_, i) => i % 2 === 0);
  const test = all.filter((_, i) => i % 2 === 1);
  const a = parseConfig({}, { env: {} }).health.anomaly;
  // Retrained once a day of 5-minute samples (288) rather than every 30: the shipped 30 is 2.5 min at
  // 5 s sampling; at NAB's 5-minute steps it would be 2.5 hours, and ten times the run time.
  const settings = { ...a, retrainEvery: NAB_RETRAIN_EVERY };
  const detectors: Array<Detector<any, any>> = [vigilDetector(settings), staticThreshold, rollingZ, kmeansDistance]; // eslint-disable-line @typescript-eslint/no-explicit-any
  const results = detectors.map((d) => {
    const r = evaluateDetector(d, train, test);
    progress(`nab: ${r.name}: chosen ${JSON.stringify(r.chosen)} (training F1 ${r.train.f1.toFixed(3)}); held-out F1 ${r.test.f1.toFixed(3)} (P ${r.test.precision.toFixed(2)}, R ${r.test.recall.toFixed(2)}) in ${r.seconds} s`);
    return r;
  });
  return { dir, trainSeries: train.map((s) => s.name), testSeries: test.map((s) => s.name), samples: all.reduce((n, s) => n + s.values.length, 0), detectors: results };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = evaluateNab(process.argv[2] ?? DEFAULT_NAB_DIR, (m) => process.stderr.write(`${m}\n`));
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
