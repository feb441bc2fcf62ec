import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatasetLimitsTracker } from '../../../shared/gemini/dataset-limits.ts';
import { limitsFor } from '../../../shared/gemini/models.ts';

/** Streams `count` examples, every other one asked for validation (a 0.5 split), and counts where they went. */
function split(method: 'supervised' | 'preference', count: number) {
  const tracker = new DatasetLimitsTracker(limitsFor('gemini-3.5-flash'), method);
  const placed = { train: 0, validation: 0 };
  for (let line = 1; line <= count; line++) {
    const where = tracker.place(line % 2 === 0 ? 'validation' : 'train');
    tracker.add(where, 100, false, line);
    placed[where] += 1;
  }
  return { placed, warning: tracker.overflowWarning(count) };
}

test('preference data: past 1,000 validation examples, validation stays within 30 % of training; supervised data keeps its 5,000 cap alone', () => {
  const preference = split('preference', 8_000);
  assert.equal(preference.placed.validation + preference.placed.train, 8_000);
  assert.ok(preference.placed.validation > 1_000);
  assert.ok(preference.placed.validation <= 0.3 * preference.placed.train, JSON.stringify(preference.placed));
  assert.match(preference.warning?.message ?? '', /only up to 30% of the training examples .* validation examples went to training/);

  const small = split('preference', 2_000);
  assert.deepEqual(small.placed, { train: 1_000, validation: 1_000 }, 'up to 1,000 validation examples, any share');
  assert.equal(small.warning, undefined);

  const supervised = split('supervised', 8_000);
  assert.deepEqual(supervised.placed, { train: 4_000, validation: 4_000 });
  assert.equal(supervised.warning, undefined);
  const capped = split('supervised', 12_000);
  assert.deepEqual(capped.placed, { train: 7_000, validation: 5_000 });
  assert.match(capped.warning?.message ?? '', /reached 5000 examples/);
});
