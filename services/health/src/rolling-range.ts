/**
 * The [min, max] of each feature over the last `span` samples (0: every sample since the start), in
 * O(1) amortised per sample with monotonic queues. The range rule compares a sample against it: a
 * baseline longer than the forest's training window (a week, or the series' whole history, as NAB
 * learns from each series' first part on) makes "more extreme than anything seen" mean just that, so
 * a daily or weekly swing the short window has forgotten does not alert again every time it comes round.
 */
export class RollingRange {
  /** Per feature: indices (into the sample count) of candidate minima / maxima, values monotone. */
  private readonly lows: Array<Array<[number, number]>> = [];
  private readonly highs: Array<Array<[number, number]>> = [];
  private count = 0;

  constructor(private readonly span: number) {
    if (!Number.isInteger(span) || span < 0) throw new Error(`baselineSamples must be a whole number ≥ 0, got ${span}`);
  }

  get samples(): number {
    return this.span === 0 ? this.count : Math.min(this.count, this.span);
  }

  push(f: readonly number[]): void {
    const i = this.count++;
    f.forEach((v, d) => {
      const lo = (this.lows[d] ??= []);
      const hi = (this.highs[d] ??= []);
      while (lo.length && lo[lo.length - 1]![1] >= v) lo.pop();
      lo.push([i, v]);
      while (hi.length && hi[hi.length - 1]![1] <= v) hi.pop();
      hi.push([i, v]);
      if (this.span > 0) {
        const oldest = i - this.span + 1;
        while (lo[0]![0] < oldest) lo.shift();
        while (hi[0]![0] < oldest) hi.shift();
      }
    });
  }

  /** The current [min, max] of every feature (empty before the first sample). */
  bounds(): { min: number[]; max: number[] } {
    return { min: this.lows.map((q) => q[0]![1]), max: this.highs.map((q) => q[0]![1]) };
  }
}
