import { after, before } from 'node:test';
import { randomUUID } from 'node:crypto';
import { startFirestoreEmulator } from '../../emulators/firestore.ts';
import { startPubSubEmulator } from '../../emulators/pubsub.ts';

export interface EmulatorEnv {
  firestoreHost: string;
  pubsubHost: string;
  /** A project id of this test file's own, so files never see each other's data. */
  projectId: string;
  /** Resolves once the emulators answer (for other before-hooks that need their hosts). */
  ready: Promise<void>;
}

/**
 * Official emulators for one test file: reused when the environment already names them (a
 * wrapper that starts them once for a whole run), otherwise started before the file's tests
 * and stopped after them. Sets the *_EMULATOR_HOST variables the Google clients read.
 */
export function useEmulators(wanted: { firestore?: boolean; pubsub?: boolean }): EmulatorEnv {
  let markReady: () => void = () => {};
  const env: EmulatorEnv = {
    firestoreHost: '',
    pubsubHost: '',
    projectId: `test-${randomUUID().slice(0, 8)}`,
    ready: new Promise((resolve) => (markReady = resolve)),
  };
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    const starts: Promise<void>[] = [];
    if (wanted.firestore) {
      if (process.env.FIRESTORE_EMULATOR_HOST) env.firestoreHost = process.env.FIRESTORE_EMULATOR_HOST;
      else
        starts.push(
          startFirestoreEmulator().then((emulator) => {
            env.firestoreHost = emulator.host;
            stops.push(emulator.stop);
          }),
        );
    }
    if (wanted.pubsub) {
      if (process.env.PUBSUB_EMULATOR_HOST) env.pubsubHost = process.env.PUBSUB_EMULATOR_HOST;
      else
        starts.push(
          startPubSubEmulator().then((emulator) => {
            env.pubsubHost = emulator.host;
            stops.push(emulator.stop);
          }),
        );
    }
    await Promise.all(starts);
    if (env.firestoreHost) process.env.FIRESTORE_EMULATOR_HOST = env.firestoreHost;
    if (env.pubsubHost) process.env.PUBSUB_EMULATOR_HOST = env.pubsubHost;
    markReady();
  });
  after(async () => {
    await Promise.all(stops.map((stop) => stop()));
  });
  return env;
}
