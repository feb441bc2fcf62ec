import * as functions from '@google-cloud/functions-framework';
import { createStatusReader, type StatusReader } from '../../adapters/firestore/status-reader.ts';
import { createFirestore } from '../../adapters/firestore/run-store.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { statusConfigSchema } from '../../shared/config/status.ts';
import { createLogger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { handleStatus } from './handler.ts';
import { answerMalformedPathsAsJson } from './malformed-path-guard.ts';

/**
 * The status function: the read API (`/api/runs`, `/api/runs/{id}[/metrics|/dataset|/evaluation]`)
 * and the dashboard (`/`). Deployed without unauthenticated access: callers need run.invoker.
 */
const log = createLogger('status');
answerMalformedPathsAsJson();
let reader: StatusReader | undefined;

functions.http('status', async (request, response) => {
  try {
    if (!reader) {
      const config = loadConfig('status', statusConfigSchema);
      reader = createStatusReader(createFirestore(config.GOOGLE_CLOUD_PROJECT), {
        runs: config.RUNS_COLLECTION,
        datasets: config.DATASETS_COLLECTION,
      });
    }
    // Repeated or bracketed parameters arrive as arrays or objects: kept as they are, so the schema refuses them.
    const query = Object.fromEntries(
      Object.entries(request.query).map(([key, value]) => [key, typeof value === 'string' ? value : (value as unknown as string)]),
    );
    const result = await handleStatus(
      { method: request.method, path: request.path, query, ifNoneMatch: request.get('if-none-match') },
      reader,
      Date.now,
    );
    response
      .status(result.status)
      .set(result.headers)
      .send(request.method === 'HEAD' ? undefined : result.body);
  } catch (error) {
    log.error(LogEvent.handlerError, 'status request failed', { error, path: request.path });
    response.status(500).json({ error: 'internal error' });
  }
});
