import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoThreads } from '../../../cli/convert.ts';

test('--threads auto: a worker a core for a large input on several cores, the main thread alone otherwise', () => {
  const large = 100 * 1024 * 1024;
  assert.equal(autoThreads(large, 4), 4);
  assert.equal(autoThreads(large, 2), 2);
  // One core (a 1 vCPU machine, or a process pinned with taskset): a worker would only share it.
  assert.equal(autoThreads(large, 1), 0);
  assert.equal(autoThreads(32 * 1024 * 1024, 8), 0);
});
