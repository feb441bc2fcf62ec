import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fallbackRegionsSchema, locationOf, nextAttemptRegion } from '../../../shared/runs/regions.ts';

test('the region of a Vertex resource is the one in its name', () => {
  assert.equal(locationOf('projects/123/locations/europe-west4/tuningJobs/9'), 'europe-west4');
  assert.equal(locationOf('projects/123/locations/us-central1/models/7@1'), 'us-central1');
  assert.equal(locationOf('publishers/google/models/gemini-3.5-flash-lite'), null, 'a base model has no region of its own');
  assert.equal(locationOf(null), null);
});

test('only a job stuck for capacity moves on, to the next region round the list; quota waits and failures stay', () => {
  const regions = { primary: 'us-central1', fallbacks: ['europe-west4', 'asia-southeast1'] };
  assert.equal(nextAttemptRegion(regions, 'us-central1', 'STUCK_IN_QUEUE'), 'europe-west4');
  assert.equal(nextAttemptRegion(regions, 'europe-west4', 'STUCK_IN_QUEUE'), 'asia-southeast1');
  assert.equal(nextAttemptRegion(regions, 'asia-southeast1', 'STUCK_IN_QUEUE'), 'us-central1');
  assert.equal(nextAttemptRegion(regions, 'europe-west4', 'TRANSIENT_FAILURE'), 'europe-west4');
  assert.equal(nextAttemptRegion({ primary: 'us-central1', fallbacks: [] }, 'us-central1', 'STUCK_IN_QUEUE'), 'us-central1');
  // A region dropped from the list since the attempt began: back to the primary.
  assert.equal(nextAttemptRegion(regions, 'me-west1', 'STUCK_IN_QUEUE'), 'us-central1');
});

test('FALLBACK_REGIONS: comma-separated region ids; a typo or a repeat fails at start-up', () => {
  assert.deepEqual(fallbackRegionsSchema.parse(' europe-west4, asia-southeast1 '), ['europe-west4', 'asia-southeast1']);
  assert.deepEqual(fallbackRegionsSchema.parse(undefined), []);
  assert.deepEqual(fallbackRegionsSchema.parse(''), []);
  assert.throws(() => fallbackRegionsSchema.parse('europe-west4,europe_west4'), /region id such as europe-west4/);
  assert.throws(() => fallbackRegionsSchema.parse('europe-west4,europe-west4'), /listed twice/);
});
