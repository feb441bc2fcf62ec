/**
 * How sure a gain is: a paired bootstrap over the held-out examples (Efron and Tibshirani, "An
 * Introduction to the Bootstrap", ch. 13, percentile interval). Each resample draws n examples
 * with replacement and takes the mean of tuned − base over them, both models' scores of the same
 * example kept together; the interval is the middle 95 % of those means. A gain whose interval
 * holds 0 is not significant: with a few hundred examples, 7 points can be noise.
 */
export interface DeltaInterval {
  level: number;
  /** The mean of tuned − base over the examples (the headline delta). */
  delta: number;
  low: number;
  high: number;
  n: number;
  resamples: number;
  /** The interval leaves out 0. */
  significant: boolean;
}

export const BOOTSTRAP_RESAMPLES = 2000;

/** null when there are no paired examples. The same inputs and seed give the same interval. */
export function pairedBootstrap(
  base: readonly number[],
  tuned: readonly number[],
  options: { resamples?: number; seed?: number; level?: number } = {},
): DeltaInterval | null {
  if (base.length !== tuned.length) throw new Error(`paired scores differ in length: ${base.length} and ${tuned.length}`);
  const n = base.length;
  if (n === 0) return null;
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const level = options.level ?? 0.95;
  const differences = base.map((value, index) => tuned[index]! - value);
  const random = mulberry32(options.seed ?? 1);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += differences[Math.floor(random() * n)]!;
    means[r] = sum / n;
  }
  means.sort();
  const [low, high] = percentileInterval(means, level);
  const delta = differences.reduce((sum, value) => sum + value, 0) / n;
  return { level, delta: round(delta), low: round(low), high: round(high), n, resamples, significant: low > 0 || high < 0 };
}

/** The interval's ends in sorted values: the (1−level)/2 and (1+level)/2 quantiles, nearest rank. */
export function percentileInterval(sorted: ArrayLike<number>, level: number): [number, number] {
  const tail = (1 - level) / 2;
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return [at(tail), at(1 - tail)];
}

/** A small seeded generator (mulberry32): the interval must not change between deliveries. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (value: number) => Number(value.toFixed(6));
