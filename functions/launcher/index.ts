import * as functions from '@google-cloud/functions-framework';
import { createStorageClient } from '../../adapters/storage/client.ts';
import { createObjectStore } from '../../adapters/storage/object-store.ts';
import { createAdmissionStore } from '../../adapters/firestore/admission-store.ts';
import { createFirestore, createRunStore } from '../../adapters/firestore/run-store.ts';
import { tuningServiceFromConfig } from '../../adapters/vertex/tuning.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { launcherConfigSchema } from '../../shared/config/launcher.ts';
import { allowedDatasetPrefixes } from '../../shared/launch/dataset-locations.ts';
import { pubsubMessagePublishedSchema } from '../../shared/launch/envelope.ts';
import { createLogger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { handleLaunch, type LauncherDeps } from './handler.ts';

/**
 * The launcher Cloud Run function: Eventarc delivers each launch-topic message as a CloudEvent.
 * Returning acknowledges the message; throwing makes Pub/Sub deliver it again (transient errors
 * only: a bad message is recorded REJECTED and acknowledged, so it never loops).
 */
const log = createLogger('launcher');
let deps: LauncherDeps | undefined;

function dependencies(): LauncherDeps {
  if (!deps) {
    const config = loadConfig('launcher', launcherConfigSchema);
    const db = createFirestore(config.GOOGLE_CLOUD_PROJECT);
    deps = {
      runs: createRunStore(db, config.RUNS_COLLECTION),
      tuning: tuningServiceFromConfig(config, log),
      log,
      now: Date.now,
      leaseMs: config.LAUNCH_LEASE_SECONDS * 1000,
      objects: createObjectStore(createStorageClient({ projectId: config.GOOGLE_CLOUD_PROJECT })),
      merge: { bucket: config.DATASETS_BUCKET, memoryBytes: config.MERGE_MEMORY_MB * 1024 * 1024 },
      maxDeliveries: config.LAUNCH_MAX_DELIVERIES,
      allowedDatasetPrefixes: allowedDatasetPrefixes(config),
      costLimits: {
        maxRunUsd: config.MAX_RUN_COST_USD ?? null,
        monthlyBudgetUsd: config.COST_BUDGET_USD ?? null,
        allowUnknown: config.ALLOW_UNKNOWN_COST,
      },
      ...(config.MAX_CONCURRENT_TUNING_JOBS > 0
        ? {
            admission: {
              store: createAdmissionStore(db, { collection: config.ADMISSION_COLLECTION, runsCollection: config.RUNS_COLLECTION }),
              maxConcurrent: config.MAX_CONCURRENT_TUNING_JOBS,
            },
          }
        : {}),
    };
  }
  return deps;
}

functions.cloudEvent<unknown>('launcher', async (event: functions.CloudEvent<unknown>) => {
  const envelope = pubsubMessagePublishedSchema.safeParse(event.data);
  if (!envelope.success) {
    // Not a Pub/Sub CloudEvent at all: nothing to record a run against, and retrying cannot help.
    log.error(LogEvent.launchRejected, 'the event is not a Pub/Sub messagePublished CloudEvent', {
      eventType: event.type,
      issues: envelope.error.issues,
    });
    return;
  }
  await handleLaunch(envelope.data, dependencies());
});
