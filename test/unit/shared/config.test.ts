import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../../../shared/config/load.ts';
import { commonConfigSchema } from '../../../shared/config/common.ts';
import { converterConfigSchema } from '../../../shared/config/converter.ts';

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

test('PREFIX_DEFAULTS: JSON of sidecars by prefix, each checked like a sidecar file; bad JSON or a bad sidecar is named', () => {
  const env = { RAW_BUCKET: 'raw-data', DATASETS_BUCKET: 'datasets' };
  const ok = parseConfig('converter', converterConfigSchema, {
    ...env,
    PREFIX_DEFAULTS: '{"incoming/a/": {"launch": {"experiment": "a"}}}',
  });
  assert.equal(ok.PREFIX_DEFAULTS['incoming/a/']?.launch?.experiment, 'a');
  assert.deepEqual(parseConfig('converter', converterConfigSchema, env).PREFIX_DEFAULTS, {});
  const issues = (text: string) => {
    try {
      parseConfig('converter', converterConfigSchema, { ...env, PREFIX_DEFAULTS: text });
      return [];
    } catch (error) {
      return (error as ConfigError).issues;
    }
  };
  assert.match(issues('{not json').join(), /PREFIX_DEFAULTS: PREFIX_DEFAULTS is not JSON/);
  assert.match(issues('{"incoming/": {"launch": {"experiment": 3}}}').join(), /PREFIX_DEFAULTS\.incoming\/\.launch\.experiment/);
});

test('MAX_RECORD_BYTES: 8 MiB unless set; sizes as people write them; nonsense or a tiny limit fails at start-up', () => {
  const env = { RAW_BUCKET: 'raw-data', DATASETS_BUCKET: 'datasets' };
  assert.equal(parseConfig('converter', converterConfigSchema, env).MAX_RECORD_BYTES, 8 * 1024 * 1024);
  assert.equal(parseConfig('converter', converterConfigSchema, { ...env, MAX_RECORD_BYTES: '16MiB' }).MAX_RECORD_BYTES, 16 * 1024 * 1024);
  assert.equal(parseConfig('converter', converterConfigSchema, { ...env, MAX_RECORD_BYTES: '2 MB' }).MAX_RECORD_BYTES, 2_000_000);
  assert.equal(parseConfig('converter', converterConfigSchema, { ...env, MAX_RECORD_BYTES: '65536' }).MAX_RECORD_BYTES, 65536);
  assert.throws(
    () => parseConfig('converter', converterConfigSchema, { ...env, MAX_RECORD_BYTES: 'lots' }),
    /MAX_RECORD_BYTES: lots is not a size such as 8MiB/,
  );
  assert.throws(
    () => parseConfig('converter', converterConfigSchema, { ...env, MAX_RECORD_BYTES: '10' }),
    /under the minimum of 1024 bytes/,
  );
});
