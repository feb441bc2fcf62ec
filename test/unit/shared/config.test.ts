import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../../../shared/config/load.ts';
import { commonConfigSchema } from '../../../shared/config/common.ts';

test('common config fills defaults and keeps emulator hosts', () => {
  const config = parseConfig('test', commonConfigSchema, { FIRESTORE_EMULATOR_HOST: '127.0.0.1:8080' });
  assert.equal(config.GOOGLE_CLOUD_LOCATION, 'us-central1');
  assert.equal(config.FIRESTORE_EMULATOR_HOST, '127.0.0.1:8080');
});

test('a bad variable fails with every problem named', () => {
  const schema = z.object({ A: z.string(), B: z.coerce.number().int() });
  assert.throws(
    () => parseConfig('demo', schema, { B: 'x' }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.issues.length === 2 &&
      error.issues.some((i) => i.startsWith('A:')) &&
      error.issues.some((i) => i.startsWith('B:')),
  );
});

test('STORAGE_EMULATOR_HOST must carry its scheme', () => {
  assert.throws(() => parseConfig('test', commonConfigSchema, { STORAGE_EMULATOR_HOST: '127.0.0.1:9023' }), ConfigError);
});
