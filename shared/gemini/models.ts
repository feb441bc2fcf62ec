/**
 * What each tunable base model accepts, one row per model, so supporting a new model is one row.
 *
 * Limits source: "About supervised fine-tuning for Gemini models",
 * https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-tuning (Limitations table),
 * and "Prepare supervised fine-tuning data for Gemini models",
 * https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare,
 * as documented for Gemini 2.0 / 2.5 (read 2025-09; the pages change with models: re-check
 * them when adding a row).
 *
 * Training prices source: Vertex AI generative AI pricing, "Tuning" section,
 * https://cloud.google.com/vertex-ai/generative-ai/pricing (USD per 1M training tokens, read
 * 2025-09). They could not be re-read from this offline build machine, so every price carries
 * `priceVerifiedOn`; a model whose price we do not know has `trainingPricePerMillionUsd: null`
 * and the report says so instead of guessing.
 */
export const MODEL_TABLE_SOURCE = {
  limits: 'https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-tuning',
  prices: 'https://cloud.google.com/vertex-ai/generative-ai/pricing',
  readOn: '2025-09',
} as const;

export interface ModelSpec {
  id: string;
  /** Input and output tokens together, per example. */
  maxTokensPerExample: number;
  maxValidationExamples: number;
  maxDatasetFileBytes: number;
  maxTextOnlyTrainingExamples: number;
  maxMultimodalTrainingExamples: number;
  adapterSizes: readonly number[];
  trainingPricePerMillionUsd: number | null;
  priceVerifiedOn: string | null;
}

const GB = 1024 * 1024 * 1024;

// Shared by every Gemini 2.x tunable model as documented; the rows below differ only where the
// documentation says they do (Pro's adapter sizes stop at 8).
const gemini2Limits = {
  maxTokensPerExample: 131_072,
  maxValidationExamples: 5_000,
  maxDatasetFileBytes: 1 * GB,
  maxTextOnlyTrainingExamples: 1_000_000,
  maxMultimodalTrainingExamples: 300_000,
} as const;

const rows: readonly ModelSpec[] = [
  { id: 'gemini-2.5-pro', ...gemini2Limits, adapterSizes: [1, 2, 4, 8], trainingPricePerMillionUsd: 25, priceVerifiedOn: '2025-09' },
  { id: 'gemini-2.5-flash', ...gemini2Limits, adapterSizes: [1, 2, 4, 8, 16], trainingPricePerMillionUsd: 5, priceVerifiedOn: '2025-09' },
  { id: 'gemini-2.5-flash-lite', ...gemini2Limits, adapterSizes: [1, 2, 4, 8, 16], trainingPricePerMillionUsd: 1.5, priceVerifiedOn: '2025-09' },
  { id: 'gemini-2.0-flash-001', ...gemini2Limits, adapterSizes: [1, 2, 4, 8, 16], trainingPricePerMillionUsd: 3, priceVerifiedOn: '2025-09' },
  { id: 'gemini-2.0-flash-lite-001', ...gemini2Limits, adapterSizes: [1, 2, 4, 8, 16], trainingPricePerMillionUsd: 1, priceVerifiedOn: '2025-09' },
];

const byId = new Map(rows.map((row) => [row.id, row]));

/** Aliases people type for the same model (Vertex accepts the versionless 2.0 names too). */
const aliases: Record<string, string> = {
  'gemini-2.0-flash': 'gemini-2.0-flash-001',
  'gemini-2.0-flash-lite': 'gemini-2.0-flash-lite-001',
};

export const DEFAULT_BASE_MODEL = 'gemini-2.5-flash';

/** The spec of a model by id, full resource name (`publishers/google/models/ID`) or alias. */
export function getModelSpec(name: string): ModelSpec | undefined {
  const id = name.trim().replace(/^.*\/models\//, '');
  return byId.get(aliases[id] ?? id);
}

export function knownModels(): readonly ModelSpec[] {
  return rows;
}
