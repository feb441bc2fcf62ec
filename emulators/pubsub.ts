import { join } from 'node:path';
import { cloudSdkRoot, startEmulatorProcess, type RunningEmulator } from './process.ts';

/** The official Cloud Pub/Sub emulator (google-cloud-cli component `pubsub-emulator`). */
export async function startPubSubEmulator(options: { port?: number; pickPort?: () => Promise<number> } = {}): Promise<RunningEmulator> {
  return startEmulatorProcess({
    name: 'Pub/Sub',
    command: join(cloudSdkRoot(), 'platform/pubsub-emulator/bin/cloud-pubsub-emulator'),
    args: (port) => [`--host=127.0.0.1`, `--port=${port}`],
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.pickPort ? { pickPort: options.pickPort } : {}),
    started: /Server started, listening on \d+/,
    ready: async (base) => (await fetch(base)).ok,
  });
}
