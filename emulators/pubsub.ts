import { join } from 'node:path';
import { cloudSdkRoot, freePort, startEmulatorProcess, type RunningEmulator } from './process.ts';

/** The official Cloud Pub/Sub emulator (google-cloud-cli component `pubsub-emulator`). */
export async function startPubSubEmulator(options: { port?: number } = {}): Promise<RunningEmulator> {
  const port = options.port ?? (await freePort());
  return startEmulatorProcess({
    name: 'Pub/Sub',
    command: join(cloudSdkRoot(), 'platform/pubsub-emulator/bin/cloud-pubsub-emulator'),
    args: [`--host=127.0.0.1`, `--port=${port}`],
    port,
    ready: async (base) => (await fetch(base)).ok,
  });
}
