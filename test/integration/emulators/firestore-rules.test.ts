import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Firestore } from '@google-cloud/firestore';
import { useEmulators } from '../../support/emulators.ts';

/**
 * The security rules that are deployed (infra/firestore.tf reads this same file), enforced by the
 * Firestore emulator on client requests: apps signed in to the project read runs, their metrics
 * and datasets; nobody writes through the client API; anonymous callers read nothing.
 */
const emulators = useEmulators({ firestore: true });
const rules = readFileSync(fileURLToPath(new URL('../../../firestore.rules', import.meta.url)), 'utf8');

/** An ID token as the emulator accepts them (unsigned, as Firebase's own rules-testing library makes them). */
function signedIn(projectId: string, uid: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iss: `https://securetoken.google.com/${projectId}`, aud: projectId, sub: uid, user_id: uid, iat: now, exp: now + 3600, auth_time: now, firebase: { sign_in_provider: 'custom', identities: {} } })}.`;
}

test('apps signed in to the project read runs, metrics and datasets; nobody writes through the client API; anonymous callers read nothing', async () => {
  await emulators.ready;
  const { projectId, firestoreHost } = emulators;
  const loaded = await fetch(`http://${firestoreHost}/emulator/v1/projects/${projectId}:securityRules`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules: { files: [{ name: 'firestore.rules', content: rules }] } }),
  });
  assert.equal(loaded.status, 200, await loaded.text());

  // The pipeline writes with the server library, which the rules do not govern.
  const admin = new Firestore({ projectId });
  await admin.doc('runs/r1').set({ runId: 'r1', state: 'RUNNING' });
  await admin.doc('runs/r1/metrics/a1_train_total_loss').set({ metric: '/train_total_loss' });
  await admin.doc('datasets/d1').set({ datasetId: 'd1' });
  await admin.doc('leases/x').set({ secret: true });
  await admin.terminate();

  const documents = `http://${firestoreHost}/v1/projects/${projectId}/databases/(default)/documents`;
  const app = { authorization: `Bearer ${signedIn(projectId, 'dashboard-app')}` };
  const read = (path: string, headers: Record<string, string> = {}) => fetch(`${documents}/${path}`, { headers }).then((r) => r.status);
  assert.equal(await read('runs/r1', app), 200);
  assert.equal(await read('runs/r1/metrics/a1_train_total_loss', app), 200);
  assert.equal(await read('datasets/d1', app), 200);
  assert.equal(await read('leases/x', app), 403, 'nothing else is readable');
  assert.equal(await read('runs/r1'), 403, 'anonymous callers read nothing');

  const write = await fetch(`${documents}/runs/r1?updateMask.fieldPaths=state`, {
    method: 'PATCH',
    headers: { ...app, 'content-type': 'application/json' },
    body: JSON.stringify({ fields: { state: { stringValue: 'COMPLETED' } } }),
  });
  assert.equal(write.status, 403, 'apps cannot write runs');
  const create = await fetch(`${documents}/runs?documentId=forged`, {
    method: 'POST',
    headers: { ...app, 'content-type': 'application/json' },
    body: JSON.stringify({ fields: {} }),
  });
  assert.equal(create.status, 403, 'apps cannot create runs');
});
