import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { startFirestoreEmulator } from '../../../emulators/firestore.ts';
import { startPubSubEmulator } from '../../../emulators/pubsub.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('the official Firestore emulator starts on a free port, serves the real client, and stops with its process group', async () => {
  const emulator = await startFirestoreEmulator();
  try {
    const db = new Firestore({ projectId: 'emulator-check', host: emulator.host, ssl: false });
    await db.doc('runs/r1').set({ state: 'ACCEPTED' });
    assert.equal((await db.doc('runs/r1').get()).get('state'), 'ACCEPTED');
    await emulator.reset('emulator-check');
    assert.equal((await db.doc('runs/r1').get()).exists, false);
    await db.terminate();
  } finally {
    await emulator.stop();
  }
  assert.equal(alive(emulator.pid), false);
});

test('the official Pub/Sub emulator carries a message from a topic to a subscription through the real client', async () => {
  const emulator = await startPubSubEmulator();
  try {
    const pubsub = new PubSub({ projectId: 'emulator-check', apiEndpoint: emulator.host, emulatorMode: true });
    const [topic] = await pubsub.createTopic('launch');
    const [subscription] = await topic.createSubscription('launcher');
    await topic.publishMessage({ json: { hello: 'world' } });
    const received = await new Promise<string>((resolve, reject) => {
      subscription.once('message', (message) => {
        message.ack();
        resolve(message.data.toString());
      });
      subscription.once('error', reject);
    });
    assert.deepEqual(JSON.parse(received), { hello: 'world' });
    await subscription.close();
    await pubsub.close();
  } finally {
    await emulator.stop();
  }
  assert.equal(alive(emulator.pid), false);
});
