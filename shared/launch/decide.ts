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
  const preference = message.method === 'PREFERENCE' || message.stages?.includes('PREFERENCE') === true;
  // "Use continuous tuning for Gemini models" lists the models that take it.
  if (message.preTunedModel && spec.methods.continuous === false)
    return `${spec.id} does not take continuous tuning (${spec.source}): tune from the base model over all the data instead`;
  if (preference && spec.methods.preference === false) return `${spec.id} does not take preference tuning (${spec.source})`;
  // A staged run's later stage continues from the model the stage before made.
  if (message.stages && spec.methods.continuous === false)
    return `${spec.id} does not take continuous tuning (${spec.source}), which a staged run's second stage is: launch "method": "PREFERENCE" alone`;
  if (!preference && message.hyperParameters.beta !== undefined)
    return 'hyperParameters.beta is a preference tuning setting: give "method": "PREFERENCE", or leave beta out';
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

/** The date from which a supervised-tuned model can be continued ("Use continuous tuning for Gemini models"). */
export const CONTINUOUS_TUNING_CUTOFF = '2025-07-11';

/**
 * Why a continuation cannot start from `parent`, the run of ours that made its tuned model:
 * only supervised-tuned models tuned on or after 2025-07-11 can be continued (the continuous
 * tuning page), and the request must name the Gemini model the parent descends from.
 */
export function continuationRefusal(message: LaunchMessage, parent: RunDocument): string | null {
  const name = message.preTunedModel!.tunedModelName;
  if (!parent.tunedModel) return `${name} is the tuned model of run ${parent.runId}, which has none recorded (${parent.state})`;
  if (parent.request?.method === 'PREFERENCE')
    return `${name} was preference-tuned (run ${parent.runId}): continuous tuning starts from supervised-tuned models only`;
  if (parent.createTime < CONTINUOUS_TUNING_CUTOFF)
    return `${name} was tuned on ${parent.createTime.slice(0, 10)}: only models tuned on or after ${CONTINUOUS_TUNING_CUTOFF} can be continued`;
  if (parent.baseModel !== message.baseModel)
    return `${name} descends from ${parent.baseModel} (run ${parent.runId}), not ${message.baseModel}: name its base model`;
  const checkpoint = message.preTunedModel!.checkpointId;
  const known = parent.tunedModel.checkpoints?.map((item) => item.checkpointId);
  if (checkpoint && known && !known.includes(checkpoint))
    return `${name} has no checkpoint ${checkpoint} (run ${parent.runId} kept ${known.join(', ') || 'none'})`;
  return null;
}

/**
 * Why a continuation cannot start from a tuned model no run of ours made, from what Vertex says
 * of it (ModelService.GetModel): it does not exist, or it was made before 2025-07-11 (the
 * continuous tuning page; Model.create_time is its first version's). Its tuning method is not in
 * the Model resource: Vertex judges that.
 */
export function describedModelRefusal(name: string, described: { createTime: string | null } | null): string | null {
  if (!described) return `${name} does not exist: Vertex has no such model (check the project, region, id and version)`;
  if (described.createTime && described.createTime < CONTINUOUS_TUNING_CUTOFF)
    return `${name} was made on ${described.createTime.slice(0, 10)}: only models tuned on or after ${CONTINUOUS_TUNING_CUTOFF} can be continued`;
  return null;
}

/** The run document a first delivery creates. */
export function newRun(message: LaunchMessage, nowIso: string, parentRunId: string | null = null): RunDocument {
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
    ...(message.preTunedModel
      ? {
          lineage: {
            parentRunId,
            preTunedModel: message.preTunedModel.tunedModelName,
            checkpointId: message.preTunedModel.checkpointId ?? null,
          },
        }
      : {}),
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
export function rejectedRun(
  runId: string,
  fullReason: string,
  nowIso: string,
  request: LaunchMessage | null,
  raw: RawRequest,
): RunDocument {
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
