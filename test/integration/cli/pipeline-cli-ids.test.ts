import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The real binary; the emulator hosts point at a closed port, so only the argument check can answer. */
function cli(...args: string[]) {
  const env = {
    ...process.env,
    GOOGLE_CLOUD_PROJECT: 'ids-test',
    FIRESTORE_EMULATOR_HOST: '127.0.0.1:9',
    PUBSUB_EMULATOR_HOST: '127.0.0.1:9',
  };
  const result = spawnSync(process.execPath, [`${root}bin/sft-pipeline.mjs`, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { status: result.status, stderr: result.stderr };
}

test('status, cancel and retry with an id no run can have: one clear line and exit 1, nothing sent anywhere', () => {
  for (const command of ['status', 'cancel', 'retry']) {
    for (const id of ['__proto__', '%ZZ', '../runs/x', 'a b']) {
      const { status, stderr } = cli(command, id);
      assert.equal(status, 1, `${command} ${id}: ${stderr}`);
      assert.match(stderr, new RegExp(`^sft-pipeline ${command}: no run .*a run id is letters, digits, _ and -\\n$`), `${command} ${id}`);
    }
  }
  assert.equal(cli('retry').status, 2, 'a missing id is a usage error');
});
