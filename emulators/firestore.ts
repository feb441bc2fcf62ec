import { join } from 'node:path';
import { cloudSdkRoot, startEmulatorProcess, type RunningEmulator } from './process.ts';

/** The official Cloud Firestore emulator (google-cloud-cli component `cloud-firestore-emulator`). */
export async function startFirestoreEmulator(
  options: { port?: number } = {},
): Promise<RunningEmulator & { reset(projectId: string): Promise<void> }> {
  const emulator = await startEmulatorProcess({
    name: 'Firestore',
    command: join(cloudSdkRoot(), 'platform/cloud-firestore-emulator/cloud_firestore_emulator'),
    args: (port) => ['start', `--host=127.0.0.1`, `--port=${port}`],
    ...(options.port === undefined ? {} : { port: options.port }),
    started: /Dev App Server is now running/,
    ready: async (base) => (await fetch(base)).ok,
  });
  return {
    ...emulator,
    /** Deletes every document of a project (the emulator's own reset endpoint). */
    async reset(projectId: string) {
      const response = await fetch(`http://${emulator.host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, {
        method: 'DELETE',
      });
      if (!response.ok) throw new Error(`Firestore emulator reset failed: ${response.status}`);
    },
  };
}
