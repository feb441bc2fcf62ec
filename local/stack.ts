import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import type { Storage } from '@google-cloud/storage';
import { createStorageClient } from '../adapters/storage/client.ts';
import { createObjectStore } from '../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../adapters/tokenizer/index.ts';
import { startFirestoreEmulator } from '../emulators/firestore.ts';
import { freePort, portIsFree, waitForPort } from '../emulators/process.ts';
import { startPubSubEmulator } from '../emulators/pubsub.ts';
import { startStorageEmulator } from '../emulators/storage/server.ts';
import type { Timing } from '../simulator/vertex/jobs.ts';
import { startVertexSimulator } from '../simulator/vertex/server.ts';
import { relayToFunction } from './eventarc-relay.ts';

/**
 * The whole pipeline on one machine, wired as on Google Cloud: the official Firestore and
 * Pub/Sub emulators, our storage emulator and Vertex AI simulator, and every function under the
 * functions-framework on its own port with the environment Terraform gives it; finalize events
 * go to the converter as Eventarc would send them, Pub/Sub messages are relayed to the launcher
 * as CloudEvents, and a timer calls the poller as Cloud Scheduler would.
 */
export interface StackOptions {
  projectId?: string;
  /** Simulator timings: seconds, not the hours Vertex takes. */
  timing?: Partial<Timing>;
  /** The simulated project's concurrent tuning job quota: 1, Google's default, unless a test says otherwise. */
  concurrentTuningJobs?: number;
  pollEveryMs?: number;
  /** Extra environment for the functions (e.g. a shorter STUCK_AFTER_SECONDS in tests). */
  functionEnv?: Record<string, string>;
  log?: (line: string) => void;
  /**
   * Fixed ports from here on (Firestore, Pub/Sub, storage, simulator, then each function in
   * STACK_SERVICES order), so the dashboard and emulators keep their addresses between runs;
   * without it every service gets a free port.
   */
  basePort?: number;
}

/** Every service of the stack, in the order fixed ports are given out from `basePort`. */
export const STACK_SERVICES = [
  'firestore',
  'pubsub',
  'storage',
  'vertex-simulator',
  'converter',
  'launcher',
  'poller',
  'completion',
  'status',
] as const;

/** A port the stack was asked to use is taken: said at once, before anything starts. */
export class PortInUseError extends Error {
  constructor(taken: { service: string; port: number }[]) {
    super(
      `port${taken.length > 1 ? 's' : ''} in use: ${taken.map((t) => `${t.port} (${t.service})`).join(', ')}; stop what holds ${taken.length > 1 ? 'them' : 'it'}, or choose another --port-base`,
    );
    this.name = 'PortInUseError';
  }
}

export interface Stack {
  projectId: string;
  rawBucket: string;
  datasetsBucket: string;
  outputsBucket: string;
  env: Record<string, string>;
  urls: Record<string, string>;
  storage: Storage;
  simulator: Awaited<ReturnType<typeof startVertexSimulator>>;
  pubsub: PubSub;
  /** Kills a function's process (SIGKILL, mid-delivery if it was delivering) and starts it again. */
  crashAndRestart(name: 'converter' | 'launcher' | 'poller' | 'completion' | 'status', downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('../', import.meta.url));
const FUNCTIONS = ['converter', 'launcher', 'poller', 'completion', 'status'] as const;
const HTTP_FUNCTIONS: readonly string[] = ['poller', 'status'];

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => {});
  const projectId = options.projectId ?? 'local-sft-project';
  const rawBucket = `${projectId}-raw`;
  const datasetsBucket = `${projectId}-datasets`;
  const outputsBucket = `${projectId}-outputs`;
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  };
  const fixed =
    options.basePort === undefined ? undefined : Object.fromEntries(STACK_SERVICES.map((service, i) => [service, options.basePort! + i]));
  if (fixed) {
    const taken = [];
    for (const [service, port] of Object.entries(fixed)) if (!(await portIsFree(port))) taken.push({ service, port });
    if (taken.length > 0) throw new PortInUseError(taken);
  }
  try {
    const [firestore, pubsubEmulator, storageEmulator] = await Promise.all([
      startFirestoreEmulator(fixed ? { port: fixed.firestore! } : {}),
      startPubSubEmulator(fixed ? { port: fixed.pubsub! } : {}),
      // Eventarc's retry policy, compressed: from 1 s doubling to 10 s, kept for a day.
      startStorageEmulator({
        ...(fixed ? { port: fixed.storage! } : {}),
        deliveryRetry: { minMs: 1000, maxMs: 10_000, retentionMs: 24 * 3600_000 },
      }),
    ]);
    cleanups.push(
      () => firestore.stop(),
      () => pubsubEmulator.stop(),
      () => storageEmulator.stop(),
    );
    process.env.STORAGE_EMULATOR_HOST = storageEmulator.url;
    process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
    process.env.PUBSUB_EMULATOR_HOST = pubsubEmulator.host;
    const storage = createStorageClient({ projectId });
    const objects = createObjectStore(storage);
    const simulator = await startVertexSimulator({
      ...(fixed ? { port: fixed['vertex-simulator']! } : {}),
      timing: { pendingMs: 200, validationMs: 1000, queueMs: 3000, runMs: 5000, postProcessingMs: 500, cancelMs: 500, ...options.timing },
      concurrentTuningJobs: options.concurrentTuningJobs ?? 1,
      readDataset: (uri) => objects.read(uri),
      writeObject: (uri, content) => objects.write(uri, content),
      tokens: loadGemmaTokenizer(),
    });
    cleanups.push(() => simulator.stop());

    await storage.createBucket(rawBucket);
    await storage.createBucket(datasetsBucket);
    await storage.createBucket(outputsBucket);
    const pubsub = new PubSub({ projectId, apiEndpoint: pubsubEmulator.host, emulatorMode: true });
    cleanups.push(() => pubsub.close());
    for (const topic of ['launch', 'launch-dead-letter', 'run-events', 'run-events-dead-letter']) await pubsub.createTopic(topic);
    await pubsub.topic('launch').createSubscription('launcher', {
      deadLetterPolicy: { deadLetterTopic: `projects/${projectId}/topics/launch-dead-letter`, maxDeliveryAttempts: 10 },
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 10 } },
    });
    await pubsub.topic('run-events').createSubscription('completion', {
      deadLetterPolicy: { deadLetterTopic: `projects/${projectId}/topics/run-events-dead-letter`, maxDeliveryAttempts: 10 },
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 10 } },
    });

    const env: Record<string, string> = {
      GOOGLE_CLOUD_PROJECT: projectId,
      GOOGLE_CLOUD_LOCATION: 'us-central1',
      FIRESTORE_EMULATOR_HOST: firestore.host,
      PUBSUB_EMULATOR_HOST: pubsubEmulator.host,
      STORAGE_EMULATOR_HOST: storageEmulator.url,
      VERTEX_BASE_URL: simulator.url,
      RAW_BUCKET: rawBucket,
      DATASETS_BUCKET: datasetsBucket,
      OUTPUTS_BUCKET: outputsBucket,
      LAUNCH_TOPIC: 'launch',
      RUN_EVENTS_TOPIC: 'run-events',
      // The local stack's clock is fast: a job counts as stuck after a minute, not six hours.
      STUCK_AFTER_SECONDS: '60',
      STAGE_RESEND_SECONDS: '20',
      LOG_LEVEL: 'WARNING',
      NODE_ENV: 'production',
      // Off Google Cloud there is no metadata server; do not let the clients look for one.
      METADATA_SERVER_DETECTION: 'none',
      ...options.functionEnv,
    };
    const urls: Record<string, string> = {
      firestore: firestore.host,
      pubsub: pubsubEmulator.host,
      storage: storageEmulator.url,
      'vertex-simulator': simulator.url,
    };
    const children = new Map<string, ChildProcess>();
    let stopping = false;
    cleanups.push(() => {
      stopping = true;
      for (const child of children.values()) child.kill('SIGTERM');
    });
    // A function that dies is started again, as Cloud Run starts a new instance; events sent
    // meanwhile are retried by their senders (the storage emulator, the Pub/Sub relays).
    const restartDelays = new Map<string, number>();
    const restarts = new Map<string, Promise<void>>();
    const supervise = (name: (typeof FUNCTIONS)[number], child: ChildProcess) =>
      child.once('exit', (code, signal) => {
        if (stopping || children.get(name) !== child) return;
        const delay = restartDelays.get(name) ?? 1000;
        restartDelays.delete(name);
        log(`[${name}] exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms`);
        restarts.set(
          name,
          new Promise((resolve) => setTimeout(resolve, delay)).then(() => (stopping ? undefined : launch(name))),
        );
      });
    const ports: Record<string, number> = {};
    const launch = async (name: (typeof FUNCTIONS)[number]) => {
      ports[name] ??= fixed?.[name] ?? (await freePort());
      const child = spawn(
        process.execPath,
        [
          `${root}node_modules/@google-cloud/functions-framework/build/src/main.js`,
          `--target=${name}`,
          `--signature-type=${HTTP_FUNCTIONS.includes(name) ? 'http' : 'cloudevent'}`,
          `--source=${root}functions/${name}/index.ts`,
          `--port=${ports[name]}`,
        ],
        { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (chunk: Buffer) => log(`[${name}] ${chunk.toString().trim()}`));
      children.set(name, child);
      supervise(name, child);
      await waitForPort(ports[name], `the ${name} function`);
      urls[name] = `http://127.0.0.1:${ports[name]}/`;
    };
    await Promise.all(FUNCTIONS.map(launch));
    /** Kills a function's process outright (as a crashed instance would die); the supervisor starts it again on the same port after `downMs`. */
    const crashAndRestart = async (name: (typeof FUNCTIONS)[number], downMs = 0) => {
      const child = children.get(name)!;
      restartDelays.set(name, downMs);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await restarts.get(name);
    };
    storageEmulator.addNotificationTarget(urls.converter!, rawBucket);
    const relay = await relayToFunction(pubsub, 'launcher', 'launch', urls.launcher!, projectId);
    cleanups.push(() => relay.close());
    const completionRelay = await relayToFunction(pubsub, 'completion', 'run-events', urls.completion!, projectId);
    cleanups.push(() => completionRelay.close());
    // Cloud Scheduler's role, compressed from minutes to a second. The next call waits for the
    // previous tick to end: at this pace, overlapping ticks would only fight over the same runs.
    let timer: NodeJS.Timeout | undefined;
    let ticking = true;
    const tick = () => {
      timer = setTimeout(() => {
        void fetch(urls.poller!, { method: 'POST' })
          .then((response) => response.arrayBuffer())
          .catch(() => undefined)
          .finally(() => ticking && tick());
      }, options.pollEveryMs ?? 1000);
    };
    tick();
    cleanups.push(() => {
      ticking = false;
      clearTimeout(timer);
    });
    return { projectId, rawBucket, datasetsBucket, outputsBucket, env, urls, storage, simulator, pubsub, crashAndRestart, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
