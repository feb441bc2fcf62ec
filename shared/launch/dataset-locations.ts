import { trainingDatasets, type LaunchMessage } from './schema.ts';

/**
 * Where a launch may point the pipeline's service identity. A launch message comes from any
 * system allowed to publish to the topic; without this check it could make the launcher (and
 * Vertex, as our service agent) read any bucket the identity reaches: another team's data, or
 * the raw bucket's unconverted uploads. Allowed: datasets the converter wrote (the datasets
 * bucket), and whatever prefixes an operator lists. Checked before anything is claimed or called,
 * for every dataset the run will read: training, validation and evaluation.
 */
export function datasetLocationRefusal(message: LaunchMessage, allowedPrefixes: readonly string[] | null): string | null {
  const named: [string, string][] = [
    ...trainingDatasets(message).map((uri): [string, string] => ['training dataset', uri]),
    ...(message.validationDatasetUri ? [['validation dataset', message.validationDatasetUri] as [string, string]] : []),
    ...(message.evaluation?.datasetUri ? [['evaluation dataset', message.evaluation.datasetUri] as [string, string]] : []),
  ];
  for (const [what, uri] of named) {
    const object = uri.replace(/^gs:\/\/[^/]+\//, '');
    // Relative segments mean nothing to Cloud Storage (the object is literally named so), but a
    // prefix check on such a name says yes to what it does not mean: refused outright.
    if (object.split('/').some((segment) => segment === '.' || segment === '..' || segment === '')) {
      return `${what} ${uri}: relative or empty path segments (".", "..", "//") are not allowed`;
    }
    if (allowedPrefixes && !allowedPrefixes.some((prefix) => uri.startsWith(prefix))) {
      return `${what} ${uri} is outside the locations this pipeline may read (${allowedPrefixes.join(', ')}): convert it first, or have an operator add its bucket to ALLOWED_DATASET_PREFIXES`;
    }
  }
  return null;
}

/** The allowed prefixes from the launcher's settings: the operator's list, else the datasets bucket; null when neither is set. */
export function allowedDatasetPrefixes(config: {
  ALLOWED_DATASET_PREFIXES?: string | undefined;
  DATASETS_BUCKET?: string | undefined;
}): string[] | null {
  const listed = (config.ALLOWED_DATASET_PREFIXES ?? '')
    .split(',')
    .map((prefix) => prefix.trim())
    .filter(Boolean);
  const own = config.DATASETS_BUCKET ? [`gs://${config.DATASETS_BUCKET}/`] : [];
  const all = [...own, ...listed];
  return all.length > 0 ? all : null;
}
