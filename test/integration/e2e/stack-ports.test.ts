import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { portIsFree } from '../../../emulators/process.ts';
import { STACK_SERVICES, startStack } from '../../../local/stack.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A run of free ports as long as the stack needs. */
async function freeRun(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(STACK_SERVICES.map((_, i) => portIsFree(base + i)));
    if (free.every(Boolean)) return base;
  }
}

test('npm start -- --port-base: a port already in use is a clear message and exit 2, at once, with nothing started', async () => {
  const base = await freeRun();
  const holder = createServer().listen(base + 1, '127.0.0.1');
  await once(holder, 'listening');
  try {
    const started = Date.now();
    const child = spawn(process.execPath, [`${root}local/start.ts`, '--once', '--port-base', String(base)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`port in use: ${base + 1} \\(pubsub\\); stop what holds it, or choose another --port-base`));
    assert.ok(Date.now() - started < 15_000, 'no hang');
    assert.ok(await portIsFree(base), 'the Firestore port was never taken: nothing was started');
  } finally {
    holder.close();
  }
});

test('with a port base every service listens where it was told, so the dashboard keeps its address', async () => {
  const base = await freeRun();
  const stack = await startStack({ projectId: 'ports', basePort: base });
  try {
    assert.equal(stack.env.FIRESTORE_EMULATOR_HOST, `127.0.0.1:${base}`);
    assert.equal(stack.env.PUBSUB_EMULATOR_HOST, `127.0.0.1:${base + 1}`);
    assert.equal(stack.env.STORAGE_EMULATOR_HOST, `http://127.0.0.1:${base + 2}`);
    assert.equal(stack.env.VERTEX_BASE_URL, `http://127.0.0.1:${base + 3}`);
    assert.equal(stack.urls.status, `http://127.0.0.1:${base + 8}/`);
    assert.equal((await fetch(`${stack.urls.status}api/runs`)).status, 200);
  } finally {
    await stack.stop();
  }
});
