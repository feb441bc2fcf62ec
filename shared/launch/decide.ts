import { modelStanding } from '../gemini/models.ts';
import { createHash } from 'node:crypto';
import { RAW_PREVIEW_CHARS, type RawRequest, type RunDocument } from '../runs/schema.ts';
import { runIdFor, trainingDatasets, type LaunchMessage } from './schema.ts';

/**
 * Whether a valid launch message may start a run at `nowMs`: a base model that has not retired
 * (a retired one is refused naming its replacement; one the catalogue does not know is let
 * through, Vertex decides), an adapter size that model accepts, and the budget guard. A refusal
 * is permanent: the run is recorded REJECTED with the reason and the message acknowledged, so a
 * poison message never loops.
 */
export function launchRefusal(message: LaunchMessage, nowMs: number): string | null {
  const model = modelStanding(message.baseModel, nowMs);
  if (model.standing === 'retired') return model.message;
  const spec = model.spec;
  const preference = message.method === 'PREFERENCE';
  if (preference && spec.methods.preference === false) return `${spec.id} does not take preference tuning (${spec.source})`;
  if (!preference && message.hyperParameters.beta !== undefined) return 'hyperParameters.beta is a preference tuning setting: give "method": "PREFERENCE", or leave beta out';
  const adapter = message.hyperParameters.adapterSize;
  if (adapter !== undefined && !spec.adapterSizes.includes(adapter)) {
    return `adapter size ${adapter} is not offered for ${spec.id} (${spec.adapterSizes.join(', ')})`;
  }
  if (message.maxEstimatedCostUsd !== undefined) {
    if (message.estimatedCostUsd === undefined || message.estimatedCostUsd === null) {
      return 'maxEstimatedCostUsd is set but the message has no estimatedCostUsd to check it against';
    }
    if (message.estimatedCostUsd > message.maxEstimatedCostUsd) {
      return `estimated cost $${message.estimatedCostUsd} is over the budget of $${message.maxEstimatedCostUsd}`;
    }
  }
  return null;
}

/** The run document a first delivery creates. */
export function newRun(message: LaunchMessage, nowIso: string): RunDocument {
  const datasets = trainingDatasets(message);
  return {
    schemaVersion: 1,
    runId: runIdFor(message),
    state: 'ACCEPTED',
    experiment: message.experiment,
    baseModel: message.baseModel,
    request: message,
    trainingDatasetUri: datasets[0]!,
    sourceDatasets: datasets,
    attempts: [],
    currentJobName: null,
    tunedModel: null,
    tuningDataStats: null,
    error: null,
    rejection: null,
    history: [{ at: nowIso, from: null, to: 'ACCEPTED', reason: `requested by ${message.source}` }],
    createTime: nowIso,
    updateTime: nowIso,
    lease: null,
  };
}

/** A refusal reason short enough for a document and a dashboard line. */
const MAX_REASON_CHARS = 2000;

/** What a refused message's run keeps of it: its hash, size and the start of its text. */
export function rawRequestOf(text: string, messageId: string): RawRequest {
  return {
    messageId,
    bytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
    preview: text.slice(0, RAW_PREVIEW_CHARS),
    truncated: text.length > RAW_PREVIEW_CHARS,
  };
}

/** The run document of a refused request (valid or not), so the refusal is visible to apps. */
export function rejectedRun(runId: string, fullReason: string, nowIso: string, request: LaunchMessage | null, raw: RawRequest): RunDocument {
  const reason = fullReason.length > MAX_REASON_CHARS ? `${fullReason.slice(0, MAX_REASON_CHARS - 1)}…` : fullReason;
  return {
    schemaVersion: 1,
    runId,
    state: 'REJECTED',
    experiment: request?.experiment ?? '',
    baseModel: request?.baseModel ?? '',
    request,
    ...(request ? {} : { rawRequest: raw }),
    trainingDatasetUri: request ? trainingDatasets(request)[0]! : '',
    sourceDatasets: request ? trainingDatasets(request) : [],
    attempts: [],
    currentJobName: null,
    tunedModel: null,
    tuningDataStats: null,
    error: null,
    rejection: reason,
    history: [{ at: nowIso, from: null, to: 'REJECTED', reason }],
    createTime: nowIso,
    updateTime: nowIso,
    lease: null,
  };
}
