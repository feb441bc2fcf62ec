/** Runs the storage emulator on its own: node emulators/storage/main.ts [--port 9023] [--data DIR] */
import { parseArgs } from 'node:util';
import { startStorageEmulator } from './server.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '9023' }, data: { type: 'string' } } });
const emulator = await startStorageEmulator({ port: Number(values.port), ...(values.data ? { dataDir: values.data } : {}) });
console.log(`storage emulator listening: STORAGE_EMULATOR_HOST=${emulator.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void emulator.stop().then(() => process.exit(0)));
