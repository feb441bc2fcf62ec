import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HASH_BUCKETS, canonicalJson, exampleHash, planMergePasses } from '../../../shared/datasets/merge.ts';

test('one example whatever the key order or spacing: the canonical JSON sorts keys at every depth', () => {
  const a = JSON.parse(
    '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"be brief"}],"role":"system"}}',
  );
  const b = JSON.parse(
    '{ "systemInstruction": { "role": "system", "parts": [ { "text": "be brief" } ] }, "contents": [ { "parts": [ { "text": "hi" } ], "role": "user" } ] }',
  );
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(exampleHash(canonicalJson(a)), exampleHash(canonicalJson(b)));
  // Array order is meaning (turn order), so it is kept.
  assert.notEqual(canonicalJson({ contents: [1, 2] }), canonicalJson({ contents: [2, 1] }));
});

test('merge passes cover every non-empty bucket once, in order, each within the budget unless one bucket alone is over it', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat({ max: 5000 }), { minLength: HASH_BUCKETS, maxLength: HASH_BUCKETS }),
      fc.integer({ min: 1, max: 200_000 }),
      (sizes, budget) => {
        const passes = planMergePasses(sizes, budget);
        const covered = passes.flatMap((pass) => Array.from({ length: pass.to - pass.from + 1 }, (_, i) => pass.from + i));
        assert.deepEqual(
          covered,
          [...covered].sort((x, y) => x - y),
          'passes are in hash order',
        );
        assert.equal(new Set(covered).size, covered.length, 'no bucket is written twice');
        for (let bucket = 0; bucket < sizes.length; bucket += 1)
          if (sizes[bucket]! > 0) assert.ok(covered.includes(bucket), `bucket ${bucket} is written`);
        for (const pass of passes) {
          const bytes = sizes.slice(pass.from, pass.to + 1).reduce((sum, size) => sum + size, 0);
          const nonEmpty = sizes.slice(pass.from, pass.to + 1).filter((size) => size > 0).length;
          assert.ok(bytes <= budget || nonEmpty === 1, `pass ${pass.from}-${pass.to} holds ${bytes} > ${budget} in ${nonEmpty} buckets`);
        }
      },
    ),
  );
  assert.equal(planMergePasses(new Array(HASH_BUCKETS).fill(10), 1_000_000).length, 1, 'what fits is one pass');
  assert.equal(planMergePasses(new Array(HASH_BUCKETS).fill(10), 640).length, 4);
});
