import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createFirestore } from '../../../adapters/firestore/run-store.ts';
import { readRun } from '../../../adapters/firestore/run-reader.ts';
import { freePort, waitForPort } from '../../../emulators/process.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const emulators = useEmulators({ firestore: true });
let server: ChildProcess;
let url = '';
let sim: Awaited<ReturnType<typeof startVertexSimulator>>;
const projectId = `fn-${randomUUID().slice(0, 8)}`;

// The launcher exactly as deployed: the functions-framework serving functions/launcher, with the
// environment Terraform sets, receiving Eventarc's Pub/Sub CloudEvents over HTTP.
before(async () => {
  await emulators.ready;
  sim = await startVertexSimulator({ timing: { validationMs: 10, queueMs: 60_000, runMs: 60_000 } });
  const port = await freePort();
  server = spawn(
    process.execPath,
    [
      `${root}node_modules/@google-cloud/functions-framework/build/src/main.js`,
      '--target=launcher',
      '--signature-type=cloudevent',
      `--source=${root}functions/launcher/index.ts`,
      `--port=${port}`,
    ],
    // Admission off: this test's runs each call Vertex at once (the queue is tested in the poller and e2e tests).
    {
      env: {
        ...process.env,
        GOOGLE_CLOUD_PROJECT: projectId,
        FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
        VERTEX_BASE_URL: sim.url,
        VERTEX_RETRIES: '1',
        LOG_LEVEL: 'ERROR',
        MAX_CONCURRENT_TUNING_JOBS: '0',
      },
      stdio: 'ignore',
    },
  );
  url = `http://127.0.0.1:${port}/`;
  // Ready when the port accepts connections (an HTTP probe would itself be a CloudEvent delivery).
  await waitForPort(port, 'the launcher function');
});
after(async () => {
  server?.kill();
  await sim?.stop();
});

const deliver = (payload: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-id': randomUUID(),
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-source': '//pubsub.googleapis.com/projects/p/topics/launch',
    },
    body: JSON.stringify({
      message: { messageId: randomUUID(), data: Buffer.from(JSON.stringify(payload)).toString('base64') },
      subscription: 'projects/p/subscriptions/launcher',
    }),
  });

test('the deployed shape: a CloudEvent over HTTP starts one job; a bad message is acknowledged; a Vertex outage is not', async () => {
  const db = createFirestore(projectId);
  try {
    const request = {
      schemaVersion: 1,
      requestId: 'fn-ok',
      experiment: 'fn',
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: 'gs://sft-datasets/t.jsonl',
      source: 'test',
    };
    const ok = await deliver(request);
    assert.ok(ok.status >= 200 && ok.status < 300, `status ${ok.status}`);
    assert.equal((await readRun(db, 'fn-ok'))?.state, 'SUBMITTED');
    assert.equal(sim.control.createdCount(), 1);

    const bad = await deliver({ ...request, requestId: 'fn-bad', baseModel: 'gemini-2.5-flash' });
    assert.ok(bad.status >= 200 && bad.status < 300, 'acknowledged, so Pub/Sub does not redeliver a poison message');
    assert.equal((await readRun(db, 'fn-bad'))?.state, 'REJECTED');

    sim.control.failNextCalls(10, 503, { method: 'POST' });
    const outage = await deliver({ ...request, requestId: 'fn-outage' });
    assert.ok(outage.status >= 500, `a failed delivery (status ${outage.status}) makes Pub/Sub deliver again`);
    assert.equal((await readRun(db, 'fn-outage'))?.error?.kind, 'transient');
  } finally {
    await db.terminate();
  }
});
