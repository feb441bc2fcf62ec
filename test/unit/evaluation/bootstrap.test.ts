import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedBootstrap, percentileInterval } from '../../../shared/evaluation/bootstrap.ts';

/**
 * The reference computation: every one of the n^n equally likely resamples of a small fixture,
 * enumerated, their mean deltas sorted, and the same percentile rule applied. The bootstrap's
 * random resamples must land on the same interval.
 */
function exactInterval(base: number[], tuned: number[], level: number): [number, number] {
  const n = base.length;
  const differences = base.map((value, index) => tuned[index]! - value);
  const means: number[] = [];
  const pick = new Array<number>(n).fill(0);
  for (let done = false; !done;) {
    means.push(pick.reduce((sum, index) => sum + differences[index]!, 0) / n);
    done = true;
    for (let position = 0; position < n; position++) {
      if (++pick[position]! < n) {
        done = false;
        break;
      }
      pick[position] = 0;
    }
  }
  return percentileInterval(Float64Array.from(means).sort(), level);
}

test('the paired bootstrap interval on a fixed fixture equals the exact enumeration of every resample', () => {
  // Six held-out examples, exact match per example: the tuned model fixed three, broke one.
  const base = [0, 0, 1, 0, 1, 1];
  const tuned = [1, 1, 1, 1, 0, 1];
  const [low, high] = exactInterval(base, tuned, 0.95);
  const interval = pairedBootstrap(base, tuned, { resamples: 50_000, seed: 7 })!;
  assert.deepEqual([interval.low, interval.high], [Number(low.toFixed(6)), Number(high.toFixed(6))]);
  assert.equal(interval.delta, Number((2 / 6).toFixed(6)));
  assert.equal(interval.significant, low > 0 || high < 0);
});

test('a gain the examples cannot tell from noise is not significant; a steady one is', () => {
  const noisy = pairedBootstrap([0, 1, 0, 1, 0, 1, 0, 1], [1, 0, 1, 0, 1, 1, 0, 1])!;
  assert.equal(noisy.significant, false);
  assert.ok(noisy.low < 0 && noisy.high > 0);
  const steady = pairedBootstrap(
    Array.from({ length: 200 }, (_, i) => (i % 10 < 6 ? 1 : 0)),
    Array.from({ length: 200 }, (_, i) => (i % 10 < 8 ? 1 : 0)),
  )!;
  assert.equal(steady.delta, 0.2);
  assert.equal(steady.significant, true);
  assert.deepEqual(
    pairedBootstrap([1, 0], [0, 1], { seed: 3 }),
    pairedBootstrap([1, 0], [0, 1], { seed: 3 }),
    'the same seed, the same interval',
  );
  assert.equal(pairedBootstrap([], []), null);
});
