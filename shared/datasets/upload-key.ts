import { createHash } from 'node:crypto';
import type { LaunchMessage } from '../launch/schema.ts';
import type { DatasetDocument } from './schema.ts';

/**
 * What makes two uploads the same launch: the same bytes (the object's MD5, or CRC32C and size
 * for composite objects, which have no MD5) and the same launch spec (model, experiment,
 * hyperparameters, labels, evaluation, budget). Not the object's name or generation: a file
 * uploaded twice, or under two names, is still one tuning run. Null when the event carried no hash.
 */
export function uploadKey(source: DatasetDocument['source'], message: LaunchMessage): string | null {
  const content = source.md5Hash ? `md5:${source.md5Hash}` : source.crc32c ? `crc32c:${source.crc32c}:${source.size}` : null;
  if (!content) return null;
  const spec = {
    experiment: message.experiment,
    baseModel: message.baseModel,
    hyperParameters: message.hyperParameters,
    labels: message.labels ?? null,
    evaluation: message.evaluation ?? null,
    maxEstimatedCostUsd: message.maxEstimatedCostUsd ?? null,
    validation: message.validationDatasetUri !== undefined,
  };
  return createHash('sha256')
    .update(`${content}\n${canonical(spec)}`)
    .digest('hex')
    .slice(0, 40);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
