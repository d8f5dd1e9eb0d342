/**
 * NAB's window rule (the dataset's README): a window is detected when at least one alert falls inside
 * it (only the first counts); an alert outside every window is a false positive. False positives are
 * counted as alert episodes — a run of consecutive alerted samples outside the windows is one — not
 * as samples, so a long alarm is one mistake and a long window is one success.
 */

export interface WindowScore {
  windows: number;
  detected: number;
  /** Runs of consecutive alerts outside every window. */
  falsePositives: number;
  /** Samples from a detected window's start to its first alert. */
  delays: number[];
}

export const EMPTY_SCORE: WindowScore = { windows: 0, detected: 0, falsePositives: 0, delays: [] };

/**
 * Scores one series' alerts against its windows. Samples before `from` (the detectors' warm-up, NAB's
 * probationary period) are not scored, nor windows that end before it.
 */
export function scoreWindows(times: readonly number[], alerts: readonly boolean[], windows: ReadonlyArray<readonly [number, number]>, from = 0): WindowScore {
  const scored = windows.filter(([, end]) => times[from] === undefined || end >= times[from]!);
  const firstAlert = new Array<number>(scored.length).fill(-1);
  let fp = 0;
  let inFpEpisode = false;
  for (let i = from; i < times.length; i++) {
    const t = times[i]!;
    const w = scored.findIndex(([a, b]) => t >= a && t <= b);
    if (!alerts[i]) {
      inFpEpisode = false;
      continue;
    }
    if (w >= 0) {
      if (firstAlert[w] === -1) firstAlert[w] = i;
      inFpEpisode = false;
    } else {
      if (!inFpEpisode) fp++;
      inFpEpisode = true;
    }
  }
  const delays: number[] = [];
  scored.forEach(([a], k) => {
    if (firstAlert[k]! < 0) return;
    const start = times.findIndex((t) => t >= a);
    delays.push(firstAlert[k]! - start);
  });
  return { windows: scored.length, detected: delays.length, falsePositives: fp, delays };
}

export function addScores(a: WindowScore, b: WindowScore): WindowScore {
  return { windows: a.windows + b.windows, detected: a.detected + b.detected, falsePositives: a.falsePositives + b.falsePositives, delays: [...a.delays, ...b.delays] };
}

/** Precision = detected / (detected + false-positive episodes); recall = detected / windows; F1 their harmonic mean. */
export function f1(s: WindowScore): { precision: number; recall: number; f1: number } {
  const precision = s.detected + s.falsePositives > 0 ? s.detected / (s.detected + s.falsePositives) : 0;
  const recall = s.windows > 0 ? s.detected / s.windows : 0;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}
