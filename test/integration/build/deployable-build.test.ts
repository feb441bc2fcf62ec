import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../emulators/process.ts';

/**
 * What Cloud Build deploys is `npm run build`'s JavaScript, not the TypeScript the other tests
 * run: every function must load from dist/, with the files it reads at run time beside it.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const node = `${root}node_modules/.bin/node`;

test('npm run build emits every function, and the built status function serves the dashboard and its charting library', async () => {
  const build = spawnSync(node, [`${root}scripts/build.mjs`], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  assert.ok(existsSync(`${root}dist/assets/tokenizer`), 'the tokenizer vocabulary is beside the code');

  // Loading the entry point registers all five functions (each one's module imports resolve in JS).
  const load = spawnSync(
    node,
    [
      '--input-type=module',
      '-e',
      `
    import testing from '@google-cloud/functions-framework/testing';
    const { getFunction } = testing;
    await import('${root}dist/functions/index.js');
    console.log(['converter', 'launcher', 'poller', 'completion', 'status'].filter((name) => getFunction(name)).join(','));
  `,
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, GOOGLE_CLOUD_PROJECT: 'build-check' } },
  );
  assert.equal(load.stdout.trim(), 'converter,launcher,poller,completion,status', load.stderr);

  const port = await freePort();
  const server = spawn(
    node,
    [
      `${root}node_modules/@google-cloud/functions-framework/build/src/main.js`,
      '--target=status',
      '--signature-type=http',
      `--source=${root}dist/functions/status/index.js`,
      `--port=${port}`,
    ],
    {
      cwd: root,
      env: { ...process.env, GOOGLE_CLOUD_PROJECT: 'build-check' },
      stdio: 'ignore',
    },
  );
  try {
    let page: Response | undefined;
    for (let i = 0; i < 100 && !page; i++) {
      page = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      if (!page) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(page, 'the built status function answered');
    assert.match(await page.text(), /<script src="app.js"><\/script>/);
    const uplot = await fetch(`http://127.0.0.1:${port}/vendor/uPlot.iife.min.js`);
    assert.equal(uplot.status, 200);
    assert.match(await uplot.text(), /uPlot/);
  } finally {
    server.kill();
  }
});
