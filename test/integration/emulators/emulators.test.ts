import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PubSub } from '@google-cloud/pubsub';
import { startFirestoreEmulator } from '../../../emulators/firestore.ts';
import { freePort } from '../../../emulators/process.ts';
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

test('an emulator whose port is taken before it binds starts again on another; a taken fixed port fails at once, naming it', async () => {
  // What happened on CI: a port found free was taken (an outgoing connection's, another test's)
  // before the Java emulator bound it, and it lived on without listening.
  const squatter = createServer((_request, response) => response.end('Ok'));
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const taken = (squatter.address() as AddressInfo).port;
  try {
    const picked: number[] = [];
    const emulator = await startPubSubEmulator({
      pickPort: async () => {
        const port = picked.length === 0 ? taken : await freePort();
        picked.push(port);
        return port;
      },
    });
    try {
      assert.equal(picked.length, 2);
      assert.equal(emulator.host, `127.0.0.1:${picked[1]}`, 'not the squatter, which answers as an emulator would');
      const pubsub = new PubSub({ projectId: 'emulator-check', apiEndpoint: emulator.host, emulatorMode: true });
      const [topic] = await pubsub.createTopic('after-a-taken-port');
      assert.equal(topic.name, 'projects/emulator-check/topics/after-a-taken-port');
      await pubsub.close();
    } finally {
      await emulator.stop();
    }
    const started = Date.now();
    await assert.rejects(startPubSubEmulator({ port: taken }), new RegExp(`could not listen on 127.0.0.1:${taken}`));
    assert.ok(Date.now() - started < 30_000, 'refused without waiting out the minute');
  } finally {
    squatter.close();
  }
});
