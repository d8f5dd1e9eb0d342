/**
 * A seeded PRNG (mulberry32) and the random-value helpers the fuzzers share: the same seed gives the
 * same inputs, so a failing run can be repeated exactly (`--seed N`).
 */
export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  bool(p?: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** Picks a key by weight. */
  weighted<K extends string>(w: Record<K, number>): K;
  bytes(n: number): Uint8Array;
  /** Printable ASCII. */
  ascii(n: number): string;
  /** Any UTF-16 code units, including lone surrogates and control characters. */
  unicode(n: number): string;
  /** A random JSON value of bounded depth. */
  json(depth?: number): unknown;
  /** A v4-looking id drawn from this generator (reproducible, unlike randomUUID). */
  id(): string;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const rng: Rng = {
    seed,
    next,
    int,
    bool: (p = 0.5) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    weighted(w) {
      const entries = Object.entries(w) as Array<[keyof typeof w, number]>;
      let r = next() * entries.reduce((s, [, v]) => s + v, 0);
      for (const [k, v] of entries) if ((r -= v) < 0) return k;
      return entries[entries.length - 1]![0];
    },
    bytes(n) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
    ascii(n) {
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(int(32, 126));
      return s;
    },
    unicode(n) {
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(rng.bool(0.7) ? int(0, 0x7f) : int(0x80, 0xffff));
      return s;
    },
    json(depth = 3): unknown {
      const k = depth <= 0 ? int(0, 4) : int(0, 6);
      switch (k) {
        case 0:
          return null;
        case 1:
          return rng.bool();
        case 2:
          return rng.pick([0, -1, 1.5, 1e308, -1e-308, 2 ** 53 + 1, int(-1e9, 1e9)]);
        case 3:
          return rng.unicode(int(0, 20));
        case 4:
          return rng.ascii(int(0, 10));
        case 5:
          return Array.from({ length: int(0, 4) }, () => rng.json(depth - 1));
        default:
          return Object.fromEntries(Array.from({ length: int(0, 4) }, () => [rng.ascii(int(0, 8)), rng.json(depth - 1)]));
      }
    },
    id() {
      const h = Array.from({ length: 32 }, () => int(0, 15).toString(16)).join("");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
  };
  return rng;
}

/** A seed from the command line (`--seed N`), the environment (`FUZZ_SEED`), or the clock. */
export function seedFrom(argv: string[], env: NodeJS.ProcessEnv): number {
  const i = argv.indexOf("--seed");
  const v = i >= 0 ? argv[i + 1] : env.FUZZ_SEED;
  if (v !== undefined) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seed ${v}: a whole number ≥ 0`);
    return n >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}
