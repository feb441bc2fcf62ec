import * as functions from '@google-cloud/functions-framework';
import { PubSub } from '@google-cloud/pubsub';
import { createDatasetStore } from '../../adapters/firestore/dataset-store.ts';
import { createFirestore } from '../../adapters/firestore/run-store.ts';
import { createLaunchPublisher } from '../../adapters/pubsub/launch-publisher.ts';
import { createStorageClient } from '../../adapters/storage/client.ts';
import { createObjectStore } from '../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../adapters/tokenizer/index.ts';
import { converterConfigSchema } from '../../shared/config/converter.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { storageObjectEventSchema } from '../../shared/datasets/schema.ts';
import { createLogger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { handleObjectFinalized, type ConverterDeps } from './handler.ts';

/**
 * The converter Cloud Run function: Eventarc delivers each object finalized in the raw bucket as
 * a CloudEvent. Bad input never makes it throw (it is recorded as a REJECTED dataset); only
 * infrastructure failures do, so that Eventarc retries those.
 */
const log = createLogger('converter');
let deps: ConverterDeps | undefined;

function dependencies(): ConverterDeps {
  if (!deps) {
    const config = loadConfig('converter', converterConfigSchema);
    deps = {
      objects: createObjectStore(createStorageClient({ projectId: config.GOOGLE_CLOUD_PROJECT })),
      datasets: createDatasetStore(createFirestore(config.GOOGLE_CLOUD_PROJECT), config.DATASETS_COLLECTION),
      launches: createLaunchPublisher(new PubSub({ projectId: config.GOOGLE_CLOUD_PROJECT }), config.LAUNCH_TOPIC),
      tokens: loadGemmaTokenizer(),
      log,
      now: Date.now,
      config,
    };
  }
  return deps;
}

functions.cloudEvent<unknown>('converter', async (event: functions.CloudEvent<unknown>) => {
  const object = storageObjectEventSchema.safeParse(event.data);
  if (!object.success) {
    log.error(LogEvent.objectIgnored, 'the event is not a Cloud Storage object CloudEvent', {
      eventType: event.type,
      issues: object.error.issues,
    });
    return;
  }
  await handleObjectFinalized(object.data, event.id, dependencies());
});
