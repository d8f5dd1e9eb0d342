/** Statistics the benches report. Percentiles are nearest-rank (no interpolation), as every report says. */

/** Nearest-rank percentile (0 < p ≤ 100) of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** The arithmetic mean; 0 when empty. */
export function mean(xs: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i]!;
  return sum / (xs.length || 1);
}

/** The median (the mean of the middle two for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** n, min, the asked percentiles as p<N>, max and mean, rounded to `decimals`. */
export type Summary<P extends number = number> = { n: number; min: number; max: number; mean: number } & Record<`p${P}`, number>;

export function summarize<const P extends number>(xs: readonly number[], percentiles: readonly P[], decimals: number): Summary<P> {
  const s = [...xs].sort((a, b) => a - b);
  const scale = 10 ** decimals;
  const r = (v: number) => Math.round(v * scale) / scale;
  const out: Record<string, number> = { n: s.length, min: r(s[0] ?? Number.NaN) };
  for (const p of percentiles) out[`p${p}`] = r(percentile(s, p));
  out.max = r(s[s.length - 1] ?? Number.NaN);
  out.mean = r(mean(s));
  return out as Summary<P>;
}
