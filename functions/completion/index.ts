import * as functions from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { createCompletionStore } from '../../adapters/firestore/completion-store.ts';
import { createFirestore } from '../../adapters/firestore/run-store.ts';
import { createRunEventPublisher } from '../../adapters/pubsub/run-events.ts';
import { createStorageClient } from '../../adapters/storage/client.ts';
import { createObjectStore } from '../../adapters/storage/object-store.ts';
import { createBatchService } from '../../adapters/vertex/batch.ts';
import { createMetricsReader } from '../../adapters/vertex/metrics.ts';
import { createOnlinePredictor } from '../../adapters/vertex/online.ts';
import { createEvaluationService } from '../../adapters/vertex/evaluation.ts';
import { tuningServiceFromConfig } from '../../adapters/vertex/tuning.ts';
import { completionConfigSchema } from '../../shared/config/completion.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { pubsubMessagePublishedSchema } from '../../shared/launch/envelope.ts';
import { createLogger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { handleRunEvent, type CompletionDeps } from './handler.ts';
import { createMlflowSink } from './mlflow.ts';

/**
 * The completion handler Cloud Run function: Eventarc delivers each `run-events` message as a
 * CloudEvent. Returning acknowledges it; throwing (transient errors only) makes Pub/Sub deliver
 * it again.
 */
const log = createLogger('completion');
let deps: CompletionDeps | undefined;

function dependencies(): CompletionDeps {
  if (!deps) {
    const config = loadConfig('completion', completionConfigSchema);
    const vertex = {
      project: config.GOOGLE_CLOUD_PROJECT,
      location: config.GOOGLE_CLOUD_LOCATION,
      ...(config.VERTEX_BASE_URL ? { baseUrl: config.VERTEX_BASE_URL } : {}),
      retries: config.VERTEX_RETRIES,
      onRetry: (info: { code: string }, attempt: number) =>
        log.warn(LogEvent.vertexRetry, `retrying Vertex after ${info.code} (attempt ${attempt})`, { error: info }),
    };
    deps = {
      store: createCompletionStore(createFirestore(config.GOOGLE_CLOUD_PROJECT), config.RUNS_COLLECTION),
      tuning: tuningServiceFromConfig(config, log),
      metrics: createMetricsReader(vertex),
      batch: createBatchService(vertex),
      objects: createObjectStore(createStorageClient({ projectId: config.GOOGLE_CLOUD_PROJECT })),
      events: createRunEventPublisher(new PubSub({ projectId: config.GOOGLE_CLOUD_PROJECT }), config.RUN_EVENTS_TOPIC),
      mlflow: config.MLFLOW_TRACKING_URI
        ? createMlflowSink(config.MLFLOW_TRACKING_URI, {
            token: config.MLFLOW_TRACKING_TOKEN,
            username: config.MLFLOW_TRACKING_USERNAME,
            password: config.MLFLOW_TRACKING_PASSWORD,
          })
        : null,
      log,
      now: Date.now,
      leaseMs: config.COMPLETION_LEASE_SECONDS * 1000,
      outputsBucket: config.OUTPUTS_BUCKET,
      maxExamples: config.EVALUATION_MAX_EXAMPLES,
      online: {
        predictor: createOnlinePredictor(vertex),
        concurrency: config.ONLINE_CONCURRENCY,
        partSize: config.ONLINE_PART_SIZE,
        budgetMs: config.ONLINE_BUDGET_SECONDS * 1000,
      },
      judge: {
        service: createEvaluationService(vertex),
        concurrency: config.JUDGE_CONCURRENCY,
        budgetMs: config.JUDGE_BUDGET_SECONDS * 1000,
      },
    };
  }
  return deps;
}

functions.cloudEvent<unknown>('completion', async (event: functions.CloudEvent<unknown>) => {
  const envelope = pubsubMessagePublishedSchema.safeParse(event.data);
  if (!envelope.success) {
    log.error(LogEvent.completionIgnored, 'the event is not a Pub/Sub messagePublished CloudEvent', {
      eventType: event.type,
      issues: envelope.error.issues,
    });
    return;
  }
  await handleRunEvent(envelope.data, dependencies());
});
