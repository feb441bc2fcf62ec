import type { DatasetStore } from '../../adapters/firestore/dataset-store.ts';
import type { LaunchPublisher } from '../../adapters/pubsub/launch-publisher.ts';
import type { AddressPolicy } from '../../adapters/http/address-policy.ts';
import type { ObjectStore, ObjectWriter } from '../../adapters/storage/object-store.ts';
import type { ConverterConfig } from '../../shared/config/converter.ts';
import { convertStream } from '../../shared/convert/pipeline.ts';
import { UnusableInputError } from '../../shared/convert/readers/errors.ts';
import type { ConversionReport, TokenCounter } from '../../shared/convert/types.ts';
import {
  datasetIdFor,
  defaultSidecarFor,
  isOversize,
  mayClaimLaunch,
  routeObject,
  SIDECAR_METADATA_KEY,
  SIDECAR_SUFFIX,
  sidecarSchema,
  type DatasetDocument,
  type Sidecar,
  type StorageObjectEvent,
} from '../../shared/datasets/schema.ts';
import { uploadKey } from '../../shared/datasets/upload-key.ts';
import { launchRefusal } from '../../shared/launch/decide.ts';
import { launchEstimateUsd } from '../../shared/launch/cost-guard.ts';
import { launchMessageSchema } from '../../shared/launch/schema.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { mediaPreparer } from './media.ts';

export interface ConverterDeps {
  objects: ObjectStore;
  datasets: DatasetStore;
  launches: LaunchPublisher;
  tokens: TokenCounter;
  log: Logger;
  now: () => number;
  config: Pick<
    ConverterConfig,
    | 'DATASETS_BUCKET'
    | 'INPUT_PREFIX'
    | 'MAX_OBJECT_BYTES'
    | 'MAX_INVALID_SHARE'
    | 'DEFAULT_BASE_MODEL'
    | 'CONVERSION_LEASE_SECONDS'
    | 'HTTPS_MEDIA'
    | 'MEDIA_FETCH_TIMEOUT_SECONDS'
    | 'PREFIX_DEFAULTS'
  > &
    Partial<Pick<ConverterConfig, 'DUPLICATE_UPLOAD_WINDOW_HOURS' | 'MAX_RECORD_BYTES'>>;
  /** How https media is fetched when copied (the global fetch unless given). */
  fetch?: typeof fetch;
  /** Which hosts https media may come from (public addresses only unless given). */
  mediaAddresses?: AddressPolicy;
}

export type ConverterOutcome =
  | { status: 'ignored'; reason: string }
  | { status: 'converted' | 'rejected' | 'duplicate' | 'in-hand'; datasetId: string; launch?: string };

/**
 * One finalize event of the raw bucket. Idempotent per (bucket, object, generation): the
 * dataset id is a hash of them, the conversion is claimed in Firestore, outputs are written
 * create-once (byte-identical anyway, since conversion is deterministic), and the launch is
 * claimed before it is published. The raw object is only ever read.
 */
export async function handleObjectFinalized(object: StorageObjectEvent, eventId: string, deps: ConverterDeps): Promise<ConverterOutcome> {
  const route = routeObject(object.name, deps.config.INPUT_PREFIX);
  if (route.kind === 'ignore') {
    deps.log.info(LogEvent.objectIgnored, `ignored gs://${object.bucket}/${object.name}: ${route.reason}`);
    return { status: 'ignored', reason: route.reason };
  }
  if (route.kind === 'sidecar') return sidecarArrived(object, route.dataName, eventId, deps);

  const datasetId = datasetIdFor(object.bucket, object.name, object.generation);
  const log = deps.log.child({ datasetId, source: `gs://${object.bucket}/${object.name}#${object.generation}` });
  const nowIso = () => new Date(deps.now()).toISOString();
  const base = `gs://${deps.config.DATASETS_BUCKET}/datasets/${datasetId}`;
  const fresh = (): DatasetDocument => ({
    schemaVersion: 1,
    datasetId,
    state: 'CONVERTING',
    source: {
      bucket: object.bucket,
      name: object.name,
      generation: object.generation,
      size: object.size ?? 0,
      ...(object.md5Hash ? { md5Hash: object.md5Hash } : {}),
      ...(object.crc32c ? { crc32c: object.crc32c } : {}),
    },
    rejection: null,
    report: null,
    outputs: { train: null, validation: null, report: `${base}/report.json` },
    sidecar: null,
    launch: { state: 'NONE', reason: null, runId: null, messageId: null },
    lease: null,
    createTime: nowIso(),
    updateTime: nowIso(),
  });
  const claim = await deps.datasets.claim(datasetId, fresh, eventId, deps.now(), deps.config.CONVERSION_LEASE_SECONDS * 1000);
  if (claim === 'in-hand') {
    log.info(LogEvent.conversionDuplicate, 'another delivery is converting this object');
    return { status: 'in-hand', datasetId };
  }
  if (claim === 'done') {
    // A launch left claimed by a delivery that died is finished here, once its claim is stale.
    const launch = await maybeLaunch(datasetId, eventId, deps, log);
    return { status: 'duplicate', datasetId, ...(launch ? { launch } : {}) };
  }
  log.info(LogEvent.conversionStarted, 'converting');

  const sidecarRead = await readSidecar(object, deps);
  const doc = fresh();
  let result: { report: ConversionReport | null; rejection: string | null; validation: boolean };
  if (typeof sidecarRead === 'string') result = { report: null, rejection: sidecarRead, validation: false };
  else if (isOversize(object.size, deps.config.MAX_OBJECT_BYTES))
    result = {
      report: null,
      rejection: `the object is ${object.size} bytes, over the ${deps.config.MAX_OBJECT_BYTES} this function converts`,
      validation: false,
    };
  else result = await convert(object, sidecarRead, base, deps);

  const report = result.report;
  const final: DatasetDocument = {
    ...doc,
    state: report ? 'CONVERTED' : 'REJECTED',
    rejection: result.rejection,
    report,
    sidecar: typeof sidecarRead === 'string' ? null : sidecarRead,
    outputs: {
      train: report ? `${base}/train.jsonl` : null,
      validation: report && result.validation ? `${base}/validation.jsonl` : null,
      report: `${base}/report.json`,
    },
    updateTime: nowIso(),
  };
  // The report lands in the datasets bucket whatever happened, the failure report included.
  const reportBody =
    JSON.stringify(report ?? { input: `gs://${object.bucket}/${object.name}`, rejected: result.rejection }, null, 2) + '\n';
  await deps.objects.write(`${base}/report.json`, reportBody, { contentType: 'application/json', ifAbsent: true });
  await deps.datasets.finish(datasetId, eventId, final);
  if (report)
    log.info(LogEvent.conversionFinished, `converted: ${report.examples.valid} valid, ${report.examples.invalid} rejected`, {
      examples: report.examples,
    });
  else log.warn(LogEvent.conversionRejected, `rejected: ${result.rejection}`);
  // A sidecar uploaded while this conversion ran was ignored by its own event: read it again now.
  const lateSidecar = report && sidecarRead === null ? await readSidecar(object, deps) : null;
  const launch = report
    ? await maybeLaunch(datasetId, eventId, deps, log, lateSidecar && typeof lateSidecar !== 'string' ? lateSidecar : undefined)
    : undefined;
  return { status: report ? 'converted' : 'rejected', datasetId, ...(launch ? { launch } : {}) };
}

async function convert(object: StorageObjectEvent, sidecar: Sidecar | null, base: string, deps: ConverterDeps) {
  const validationFraction = sidecar?.validationSplit ?? 0.1;
  const train = deps.objects.openWriter(`${base}/train.jsonl`, { contentType: 'application/jsonl', ifAbsent: true });
  const validation = deps.objects.openWriter(`${base}/validation.jsonl`, { contentType: 'application/jsonl', ifAbsent: true });
  const writers: ObjectWriter[] = [train, validation];
  try {
    const report = await convertStream({
      // The generation the event names, and only it: a newer upload of the same name is its own event.
      input: deps.objects.read(`gs://${object.bucket}/${object.name}`, undefined, object.generation),
      // Parquet is read by byte range, from the same generation.
      ...(object.size
        ? { randomAccess: rangeReader(deps.objects, `gs://${object.bucket}/${object.name}`, object.size, object.generation) }
        : {}),
      fileName: object.name,
      format: sidecar?.format ?? 'auto',
      method: sidecar?.method ?? 'auto',
      columnMap: sidecar?.columnMap,
      maxPartTokens: sidecar?.maxPartTokens ?? 8192,
      ...(deps.config.MAX_RECORD_BYTES ? { maxRecordBytes: deps.config.MAX_RECORD_BYTES } : {}),
      baseModel: sidecar?.baseModel ?? deps.config.DEFAULT_BASE_MODEL,
      validationFraction,
      seed: sidecar?.seed ?? 42,
      epochs: sidecar?.epochs ?? sidecar?.launch?.hyperParameters.epochCount ?? null,
      tokens: deps.tokens,
      sinks: { train, validation },
      prepareExample: mediaPreparer({
        objects: deps.objects,
        httpsMedia: deps.config.HTTPS_MEDIA,
        mediaBucket: deps.config.DATASETS_BUCKET,
        fetchTimeoutMs: deps.config.MEDIA_FETCH_TIMEOUT_SECONDS * 1000,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        ...(deps.mediaAddresses ? { addresses: deps.mediaAddresses } : {}),
        datasetUri: `gs://${object.bucket}/${object.name}`,
      }),
      // Relative media paths are looked up beside the dataset object, by the preparer above.
      localMedia: 'upload',
    });
    // 'exists' means an earlier delivery wrote it: the same bytes, since conversion is deterministic.
    // No validation example: no validation object (an empty one would only fail a job that used it).
    const hasValidation = report.split.validation > 0;
    if (!hasValidation) validation.abort();
    await Promise.all((hasValidation ? writers : [train]).map((writer) => writer.close()));
    return { report: { ...report, input: `gs://${object.bucket}/${object.name}` }, rejection: null, validation: hasValidation };
  } catch (error) {
    for (const writer of writers) writer.abort();
    if (error instanceof UnusableInputError) return { report: null, rejection: error.message, validation: false };
    if ((error as { code?: unknown }).code === 404) {
      const rejection = `generation ${object.generation} of gs://${object.bucket}/${object.name} no longer exists (a newer upload replaced it, or it was deleted, before it was converted): nothing of it was read; a newer version is converted from its own event`;
      return { report: null, rejection, validation: false };
    }
    throw error;
  }
}

function rangeReader(objects: ObjectStore, uri: string, size: number, generation: string) {
  return {
    byteLength: size,
    async slice(start: number, end: number): Promise<Uint8Array> {
      if (end <= start) return new Uint8Array(0);
      const chunks: Uint8Array[] = [];
      for await (const chunk of objects.read(uri, { start, end: end - 1 }, generation)) chunks.push(chunk);
      return Buffer.concat(chunks);
    },
  };
}

/**
 * What a data object asks for: its sidecar file, else its `sft-sidecar` metadata, else the
 * defaults of its prefix; null when none applies, a string saying why when one is invalid.
 */
async function readSidecar(object: StorageObjectEvent, deps: ConverterDeps): Promise<Sidecar | null | string> {
  const uri = `gs://${object.bucket}/${object.name}${SIDECAR_SUFFIX}`;
  if (await deps.objects.stat(uri)) {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of deps.objects.read(uri)) {
      size += chunk.length;
      if (size > 1024 * 1024) return `${object.name}${SIDECAR_SUFFIX}: larger than 1 MB`;
      chunks.push(chunk);
    }
    return parseSidecar(Buffer.concat(chunks).toString('utf8'), `${object.name}${SIDECAR_SUFFIX}`);
  }
  const fromMetadata = object.metadata?.[SIDECAR_METADATA_KEY];
  if (fromMetadata !== undefined) return parseSidecar(fromMetadata, `${object.name} (metadata ${SIDECAR_METADATA_KEY})`);
  return defaultSidecarFor(object.name, deps.config.PREFIX_DEFAULTS)?.sidecar ?? null;
}

function parseSidecar(text: string, where: string): Sidecar | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `${where}: not JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  const parsed = sidecarSchema.safeParse(json);
  if (!parsed.success) {
    return `${where}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(sidecar)'}: ${issue.message}`).join('; ')}`;
  }
  return parsed.data;
}

/** A sidecar that arrives after its data was converted starts the launch then. */
async function sidecarArrived(
  object: StorageObjectEvent,
  dataName: string,
  eventId: string,
  deps: ConverterDeps,
): Promise<ConverterOutcome> {
  const data = await deps.objects.stat(`gs://${object.bucket}/${dataName}`);
  if (!data) return { status: 'ignored', reason: 'a sidecar whose data file has not arrived yet: the data file will read it' };
  const datasetId = datasetIdFor(object.bucket, dataName, data.generation);
  const doc = await deps.datasets.get(datasetId);
  if (!doc || doc.state !== 'CONVERTED' || doc.sidecar)
    return { status: 'ignored', reason: 'the data file is still converting or already read its sidecar' };
  const sidecar = await readSidecar({ ...object, name: dataName }, deps);
  if (typeof sidecar === 'string' || sidecar === null)
    return { status: 'ignored', reason: typeof sidecar === 'string' ? sidecar : 'empty sidecar' };
  const launch = await maybeLaunch(datasetId, eventId, deps, deps.log.child({ datasetId }), sidecar);
  return { status: 'duplicate', datasetId, ...(launch ? { launch } : {}) };
}

/**
 * Another delivery is publishing this dataset's launch message (or died doing so). Thrown so the
 * event fails and is delivered again later: by then the message is published, or the claim is
 * stale and this delivery publishes it. Never more than one message, never none.
 */
export class LaunchInProgressError extends Error {
  constructor(datasetId: string) {
    super(`the launch message of ${datasetId} is being published by another delivery; this event will be delivered again`);
    this.name = 'LaunchInProgressError';
  }
}

/** Publishes the dataset's launch message once, when its sidecar asks for one and the data is good enough. */
async function maybeLaunch(
  datasetId: string,
  holder: string,
  deps: ConverterDeps,
  log: Logger,
  sidecarOverride?: Sidecar,
): Promise<string | undefined> {
  const doc = await deps.datasets.get(datasetId);
  const sidecar = sidecarOverride ?? doc?.sidecar;
  if (!doc || !doc.report || !sidecar?.launch || ['PUBLISHED', 'SKIPPED', 'DUPLICATE'].includes(doc.launch.state)) return undefined;
  if (!mayClaimLaunch(doc.launch, deps.now())) throw new LaunchInProgressError(datasetId);
  const nowIso = new Date(deps.now()).toISOString();
  const skip = async (reason: string) => {
    if (await deps.datasets.claimLaunch(datasetId, holder, deps.now()))
      await deps.datasets.recordLaunch(datasetId, { state: 'SKIPPED', reason, runId: null, messageId: null }, nowIso);
    log.warn(LogEvent.launchSkipped, `no launch: ${reason}`);
    return undefined;
  };
  const { examples } = doc.report;
  if (examples.valid === 0) return skip('no valid examples');
  if (examples.invalid / Math.max(1, examples.total) > deps.config.MAX_INVALID_SHARE) {
    return skip(`${examples.invalid} of ${examples.total} examples were rejected, over the ${deps.config.MAX_INVALID_SHARE} allowed`);
  }
  const stages = sidecar.launch.stages;
  if (stages && doc.report.method !== 'preference')
    return skip(
      'launch.stages (supervised, then preference tuning) needs a preference dataset; this one was converted for supervised tuning',
    );
  const message = launchMessageSchema.safeParse({
    schemaVersion: 1,
    requestId: datasetId,
    experiment: sidecar.launch.experiment,
    baseModel: sidecar.baseModel ?? deps.config.DEFAULT_BASE_MODEL,
    // The dataset's own method: a preference dataset is only ever launched as preference tuning (alone, or after a supervised stage).
    ...(stages ? { stages } : doc.report.method === 'preference' ? { method: 'PREFERENCE' } : {}),
    trainingDatasetUri: doc.outputs.train,
    ...(doc.outputs.validation && doc.report.split.validation > 0 ? { validationDatasetUri: doc.outputs.validation } : {}),
    hyperParameters: sidecar.launch.hyperParameters,
    ...(sidecar.launch.labels ? { labels: sidecar.launch.labels } : {}),
    ...(sidecar.launch.evaluation ? { evaluation: sidecar.launch.evaluation } : {}),
    ...(sidecar.launch.maxEstimatedCostUsd !== undefined ? { maxEstimatedCostUsd: sidecar.launch.maxEstimatedCostUsd } : {}),
    estimatedCostUsd: launchEstimateUsd(doc.report.estimatedCost, stages?.length ?? 1),
    datasetId,
    source: 'converter',
  });
  if (!message.success)
    return skip(`the launch spec is invalid: ${message.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const refusal = launchRefusal(message.data, deps.now());
  if (refusal) return skip(refusal);
  // The same bytes with the same launch spec, launched moments ago (a double upload): one paid job, not two.
  const windowMs = (deps.config.DUPLICATE_UPLOAD_WINDOW_HOURS ?? 0) * 3600_000;
  const key = windowMs > 0 ? uploadKey(doc.source, message.data) : null;
  const first = key ? await deps.datasets.claimUpload(key, { datasetId, runId: datasetId, at: nowIso }, windowMs) : null;
  if (first) {
    const reason = `the same bytes with the same launch spec as dataset ${first.datasetId} (uploaded ${first.at}): its run ${first.runId} is this upload's run (DUPLICATE_UPLOAD_WINDOW_HOURS=0 launches every upload)`;
    if (await deps.datasets.claimLaunch(datasetId, holder, deps.now()))
      await deps.datasets.recordLaunch(datasetId, { state: 'DUPLICATE', reason, runId: first.runId, messageId: null }, nowIso);
    log.warn(LogEvent.launchSkipped, reason);
    return undefined;
  }
  if (!(await deps.datasets.claimLaunch(datasetId, holder, deps.now()))) {
    // Another delivery claimed it a moment ago: done, or still publishing (then this delivery fails and comes back).
    if ((await deps.datasets.get(datasetId))?.launch.state === 'CLAIMED') throw new LaunchInProgressError(datasetId);
    return undefined;
  }
  const messageId = await deps.launches.publish(message.data);
  await deps.datasets.recordLaunch(datasetId, { state: 'PUBLISHED', reason: null, runId: datasetId, messageId }, nowIso);
  log.info(LogEvent.launchPublished, `launch message ${messageId} published for run ${datasetId}`);
  return messageId;
}
