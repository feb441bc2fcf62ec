import * as functions from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { createFirestore } from '../../adapters/firestore/run-store.ts';
import { createPollStore } from '../../adapters/firestore/poll-store.ts';
import { createAdmissionStore } from '../../adapters/firestore/admission-store.ts';
import { createLaunchPublisher } from '../../adapters/pubsub/launch-publisher.ts';
import { createRunEventPublisher } from '../../adapters/pubsub/run-events.ts';
import { createCompletionStore } from '../../adapters/firestore/completion-store.ts';
import { createBatchService } from '../../adapters/vertex/batch.ts';
import { createMetricsReader } from '../../adapters/vertex/metrics.ts';
import { tuningServiceFromConfig } from '../../adapters/vertex/tuning.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { pollerConfigSchema } from '../../shared/config/poller.ts';
import { createLogger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { runTick, type PollerDeps } from './tick.ts';

/**
 * The poller: an HTTP function Cloud Scheduler calls on a schedule with an OIDC token. It is
 * deployed without unauthenticated access, so Cloud Run's IAM refuses any other caller before
 * this code runs. Each call is one tick; overlapping ticks are safe (see tick.ts).
 */
const log = createLogger('poller');
let deps: PollerDeps | undefined;

function dependencies(): PollerDeps {
  if (!deps) {
    const config = loadConfig('poller', pollerConfigSchema);
    const db = createFirestore(config.GOOGLE_CLOUD_PROJECT);
    const pubsub = new PubSub({ projectId: config.GOOGLE_CLOUD_PROJECT });
    deps = {
      store: createPollStore(db, config.RUNS_COLLECTION),
      tuning: tuningServiceFromConfig(config, log),
      batch: createBatchService({
        project: config.GOOGLE_CLOUD_PROJECT,
        location: config.GOOGLE_CLOUD_LOCATION,
        ...(config.VERTEX_BASE_URL ? { baseUrl: config.VERTEX_BASE_URL } : {}),
        retries: config.VERTEX_RETRIES,
      }),
      events: createRunEventPublisher(pubsub, config.RUN_EVENTS_TOPIC),
      log,
      now: Date.now,
      policy: {
        stuckAfterMs: config.STUCK_AFTER_SECONDS * 1000,
        maxAttempts: config.MAX_ATTEMPTS,
        runningWarningMs: config.RUNNING_WARNING_SECONDS * 1000,
      },
      concurrency: config.POLL_CONCURRENCY,
      leaseMs: config.RESUBMIT_LEASE_SECONDS * 1000,
      stageResendMs: config.STAGE_RESEND_SECONDS * 1000,
      ...(config.LIVE_METRICS
        ? {
            liveMetrics: {
              reader: createMetricsReader({
                location: config.GOOGLE_CLOUD_LOCATION,
                ...(config.VERTEX_BASE_URL ? { baseUrl: config.VERTEX_BASE_URL } : {}),
              }),
              store: createCompletionStore(db, config.RUNS_COLLECTION),
            },
          }
        : {}),
      duplicateWindowMs: config.DUPLICATE_CHECK_SECONDS * 1000,
      ...(config.FALLBACK_REGIONS.length > 0
        ? { regions: { primary: config.GOOGLE_CLOUD_LOCATION, fallbacks: config.FALLBACK_REGIONS } }
        : {}),
      launches: createLaunchPublisher(pubsub, config.LAUNCH_TOPIC),
      launchRecovery: {
        firstDelayMs: config.LAUNCH_RECOVERY_FIRST_SECONDS * 1000,
        maxDelayMs: config.LAUNCH_RECOVERY_MAX_DELAY_SECONDS * 1000,
        giveUpAfterMs: config.LAUNCH_RECOVERY_HOURS * 3600 * 1000,
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

functions.http('poller', async (_request, response) => {
  try {
    response.status(200).json(await runTick(dependencies()));
  } catch (error) {
    log.error(LogEvent.handlerError, 'the tick failed; the next scheduled call tries again', { error });
    response.status(500).json({ error: 'tick failed' });
  }
});
