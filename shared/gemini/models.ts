import { z } from 'zod';

/**
 * The tunable Gemini models: what each accepts, which tuning methods it takes, its training
 * price, and when it retires. A model id that is not here is not refused (a model released
 * tomorrow must work without a release of ours): it gets conservative limits and a warning, and
 * Vertex decides. A retired model is refused before anything is uploaded, naming its replacement.
 * Operators add or correct rows without code (MODEL_CATALOGUE, see shared/config/common.ts).
 *
 * Sources (stored copies read 2026-11-30; the pages change with models, re-read them when a row
 * changes):
 *  [versions] "Model versions and lifecycle",
 *     https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/model-versions
 *     (release and retirement dates, replacement models; "One month before the retirement date,
 *     new access to the model is blocked for online inference, batch inference, and tuning").
 *  [sft] the tuning reference, https://docs.cloud.google.com/gemini-enterprise-agent-platform/reference/models/tuning
 *     (supervised fine-tuning: Gemini 3.5 Flash-Lite, 3.5 Flash, 3.1 Flash-Lite, 2.5 Pro, ...).
 *  [ct] "Use continuous tuning for Gemini models" (continuous tuning: Gemini 3.5 Flash,
 *     3.1 Flash-Lite, 2.5 Pro, ...; only models supervised-tuned on or after 2025-07-11).
 *  [pref] "About preference tuning for Gemini models" (limits; its list of models is collapsed
 *     in the stored copy, so no row claims or denies preference tuning: `null`, Vertex decides).
 *  [lim] "About supervised fine-tuning for Gemini models", Limitations (read for Gemini 2.x in
 *     2025-09: 131,072 tokens per example, 5,000 validation examples, 1 GB, 1M text-only or 300K
 *     multimodal examples, adapter sizes 1-16, Pro 1-8). The stored copy does not show the
 *     Gemini 3.x tables: those rows carry the 2.x values and `limitsVerified: false`.
 *  [thinking] https://cloud.google.com/vertex-ai/generative-ai/docs/thinking (2.5 Flash and
 *     Flash-Lite: a budget of 0 turns thinking off; 2.5 Pro cannot turn it off, 128 is its least;
 *     3.x models take a thinking level, MINIMAL the least: GenerationConfig.ThinkingConfig in
 *     google/cloud/aiplatform/v1/content.proto, and the Gemini 3.5 Flash-Lite page).
 *  [price] https://cloud.google.com/vertex-ai/generative-ai/pricing, "Tuning" (USD per 1M training
 *     tokens, read 2025-09 for 2.x). No stored copy lists a tuning price for Gemini 3.x models:
 *     their price is null, and the report says so rather than guess.
 */
export const MODEL_TABLE_SOURCE = {
  limits: 'https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-tuning',
  lifecycle: 'https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/model-versions',
  prices: 'https://cloud.google.com/vertex-ai/generative-ai/pricing',
  readOn: '2026-11-30',
} as const;

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');
const adapterSize = z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8), z.literal(16)]);

/** true: the sources say the model takes it; false: they list the method without it; null: they are silent. */
const supportSchema = z.boolean().nullable();

export const modelSpecSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'a model id such as gemini-3.5-flash'),
    /** Input and output tokens together, per example. */
    maxTokensPerExample: z.number().int().positive(),
    maxValidationExamples: z.number().int().positive(),
    maxDatasetFileBytes: z.number().int().positive(),
    maxTextOnlyTrainingExamples: z.number().int().positive(),
    maxMultimodalTrainingExamples: z.number().int().positive(),
    adapterSizes: z.array(adapterSize).min(1),
    /** Whether the limits above were read for this model, or carried over from its predecessors. */
    limitsVerified: z.boolean(),
    methods: z.object({ supervised: supportSchema, preference: supportSchema, continuous: supportSchema }),
    trainingPricePerMillionUsd: z.number().nonnegative().nullable(),
    /**
     * Batch prediction's price, USD per 1M input and output tokens: what evaluation costs. No
     * stored copy of the pricing page lists it for the current models, so no row has it: an
     * operator sets it with MODEL_CATALOGUE, and evaluation is then in the cost estimate.
     */
    batchPricePerMillionUsd: z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).strict().nullable().optional(),
    /** When the price was read, or why there is none. */
    priceVerifiedOn: z.string().nullable(),
    /** The last day the model is available ([versions]); null when none is announced. */
    retiresOn: isoDate.nullable(),
    /** The model Google names to move to. */
    replacement: z.string().nullable(),
    /**
     * The lowest thinking a request can ask of the model ([lim]: "For models that support
     * thinking, we suggest setting the thinking budget to off or its lowest value" for tuned
     * tasks): a level for 3.x models, a token budget for 2.5 ([thinking]); null: no thinking.
     */
    thinking: z
      .union([z.object({ level: z.enum(['MINIMAL', 'LOW']) }).strict(), z.object({ budget: z.number().int().min(0) }).strict()])
      .nullable(),
    /** Where this row's facts come from (`operator` for rows given in MODEL_CATALOGUE). */
    source: z.string(),
  })
  .strict();
export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** An operator's row: a whole new model, or the fields to correct on a known one. */
export const modelOverrideSchema = modelSpecSchema.partial().required({ id: true }).strict();
export type ModelOverride = z.infer<typeof modelOverrideSchema>;

const GB = 1024 * 1024 * 1024;

/** [lim] as documented for Gemini 2.x; carried to 3.x rows, whose tables the stored pages do not show. */
const documentedLimits = {
  maxTokensPerExample: 131_072,
  maxValidationExamples: 5_000,
  maxDatasetFileBytes: 1 * GB,
  maxTextOnlyTrainingExamples: 1_000_000,
  maxMultimodalTrainingExamples: 300_000,
} as const;

/** priceVerifiedOn of a price set in MODEL_CATALOGUE. */
export const OPERATOR_PRICE = 'set by the operator (MODEL_CATALOGUE)';

const NO_3X_PRICE = 'no tuning price for this model in the stored copies of the pricing page (2026-11-30): set it with MODEL_CATALOGUE';

const builtIn: readonly ModelSpec[] = [
  {
    id: 'gemini-3.5-flash',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: false,
    methods: { supervised: true, preference: null, continuous: true },
    trainingPricePerMillionUsd: null,
    priceVerifiedOn: NO_3X_PRICE,
    retiresOn: '2027-05-19',
    replacement: null,
    thinking: { level: 'MINIMAL' },
    source: '[versions] released 2026-05-19, retires 2027-05-19 or later; [sft]; [ct]',
  },
  {
    id: 'gemini-3.5-flash-lite',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: false,
    methods: { supervised: true, preference: null, continuous: false },
    trainingPricePerMillionUsd: null,
    priceVerifiedOn: NO_3X_PRICE,
    retiresOn: '2027-07-21',
    replacement: null,
    thinking: { level: 'MINIMAL' },
    source: '[versions] released 2026-07-21, retires 2027-07-21 or later; [sft]; not in [ct]',
  },
  {
    id: 'gemini-3.1-flash-lite',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: false,
    methods: { supervised: true, preference: null, continuous: true },
    trainingPricePerMillionUsd: null,
    priceVerifiedOn: NO_3X_PRICE,
    retiresOn: '2027-05-07',
    replacement: null,
    thinking: { level: 'MINIMAL' },
    source: '[versions] released 2026-05-07, retires 2027-05-07 or later; [sft]; [ct]',
  },
  {
    id: 'gemini-2.5-pro',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8],
    limitsVerified: true,
    methods: { supervised: true, preference: null, continuous: true },
    trainingPricePerMillionUsd: 25,
    priceVerifiedOn: '2025-09',
    retiresOn: '2026-10-16',
    replacement: 'gemini-3.5-flash',
    thinking: { budget: 128 },
    source: '[versions] retires 2026-10-16, replacement Gemini 3.5 Flash; [lim]; [price]',
  },
  {
    id: 'gemini-2.5-flash',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: true,
    methods: { supervised: true, preference: null, continuous: null },
    trainingPricePerMillionUsd: 5,
    priceVerifiedOn: '2025-09',
    retiresOn: '2026-10-16',
    replacement: 'gemini-3.5-flash-lite',
    thinking: { budget: 0 },
    source: '[versions] retires 2026-10-16, replacement Gemini 3.5 Flash-Lite or 3.1 Flash-Lite; [lim]; [price]',
  },
  {
    id: 'gemini-2.5-flash-lite',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: true,
    methods: { supervised: true, preference: null, continuous: null },
    trainingPricePerMillionUsd: 1.5,
    priceVerifiedOn: '2025-09',
    retiresOn: '2026-10-16',
    replacement: 'gemini-3.1-flash-lite',
    thinking: { budget: 0 },
    source: '[versions] retires 2026-10-16, replacement Gemini 3.1 Flash-Lite; [lim]; [price]',
  },
  {
    id: 'gemini-2.0-flash-001',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: true,
    methods: { supervised: true, preference: null, continuous: false },
    trainingPricePerMillionUsd: 3,
    priceVerifiedOn: '2025-09',
    retiresOn: '2026-06-01',
    replacement: 'gemini-3.5-flash-lite',
    thinking: null,
    source:
      '[versions] no longer among available models (retirement first set for 2026-02-05, later 2026-06-01); its replacement, Gemini 2.5 Flash, retired too',
  },
  {
    id: 'gemini-2.0-flash-lite-001',
    ...documentedLimits,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: true,
    methods: { supervised: true, preference: null, continuous: false },
    trainingPricePerMillionUsd: 1,
    priceVerifiedOn: '2025-09',
    retiresOn: '2026-06-01',
    replacement: 'gemini-3.1-flash-lite',
    thinking: null,
    source:
      '[versions] no longer among available models (retirement first set for 2026-02-25, later 2026-06-01); its replacement, Gemini 2.5 Flash-Lite, retired too',
  },
];

/** Aliases people type for the same model (Vertex accepts the versionless 2.0 names too). */
const aliases: Record<string, string> = {
  'gemini-2.0-flash': 'gemini-2.0-flash-001',
  'gemini-2.0-flash-lite': 'gemini-2.0-flash-lite-001',
};

/** Google names Gemini 3.5 Flash-Lite as the replacement of the previous default, Gemini 2.5 Flash. */
export const DEFAULT_BASE_MODEL = 'gemini-3.5-flash-lite';

let catalogue = new Map(builtIn.map((row) => [row.id, row]));
let applied: readonly ModelOverride[] = [];

/**
 * Applies an operator's rows over the built-in ones (called once at start-up by the config
 * loader, and by each conversion worker). A row for a known id corrects its fields; a new id
 * must be a whole row. Throws with every problem named.
 */
export function useModelOverrides(overrides: readonly ModelOverride[]): void {
  const next = new Map(builtIn.map((row) => [row.id, row]));
  const problems: string[] = [];
  for (const override of overrides) {
    // A price the operator gives is theirs, not the pricing page's: say so unless they said when they read it.
    const priced =
      override.trainingPricePerMillionUsd !== undefined && override.priceVerifiedOn === undefined
        ? { priceVerifiedOn: OPERATOR_PRICE }
        : {};
    const merged = modelSpecSchema.safeParse({ ...(next.get(override.id) ?? {}), source: 'operator', ...priced, ...override });
    if (merged.success) next.set(override.id, merged.data);
    else problems.push(`${override.id}: ${merged.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  if (problems.length > 0) throw new Error(`MODEL_CATALOGUE: ${problems.join(' | ')} (a model not built in needs every field)`);
  catalogue = next;
  applied = overrides;
}

/** The operator's rows in force: what a conversion worker is started with. */
export function modelOverrides(): readonly ModelOverride[] {
  return applied;
}

/** The last name asked for and its id: validation asks once per example, nearly always for the same model. */
let lastIdOf = { name: '', id: '' };

function idOf(name: string): string {
  if (name === lastIdOf.name) return lastIdOf.id;
  const trimmed = name.trim().replace(/^.*\/models\//, '');
  const id = aliases[trimmed] ?? trimmed;
  lastIdOf = { name, id };
  return id;
}

/** The catalogue row of a model by id, full resource name (`publishers/google/models/ID`) or alias. */
export function getModelSpec(name: string): ModelSpec | undefined {
  return catalogue.get(idOf(name));
}

export function knownModels(): readonly ModelSpec[] {
  return [...catalogue.values()];
}

/**
 * The limits a model we do not know is checked against: for each, the strictest in the
 * catalogue, so that nothing passes here that a catalogued model would refuse. Vertex has the
 * last word; the price is unknown.
 */
export function conservativeSpec(name: string): ModelSpec {
  const rows = knownModels();
  const least = (pick: (row: ModelSpec) => number) => Math.min(...rows.map(pick));
  return {
    id: idOf(name),
    maxTokensPerExample: least((row) => row.maxTokensPerExample),
    maxValidationExamples: least((row) => row.maxValidationExamples),
    maxDatasetFileBytes: least((row) => row.maxDatasetFileBytes),
    maxTextOnlyTrainingExamples: least((row) => row.maxTextOnlyTrainingExamples),
    maxMultimodalTrainingExamples: least((row) => row.maxMultimodalTrainingExamples),
    adapterSizes: ([1, 2, 4, 8, 16] as const).filter((size) => rows.every((row) => row.adapterSizes.includes(size))),
    limitsVerified: false,
    methods: { supervised: null, preference: null, continuous: null },
    trainingPricePerMillionUsd: null,
    priceVerifiedOn: 'not in the model catalogue: its price is unknown',
    retiresOn: null,
    replacement: null,
    thinking: null,
    source: 'not in the catalogue: the strictest limits in it',
  };
}

/** What is said of a model id the catalogue does not hold. */
export function unknownModelMessage(name: string): string {
  return `"${idOf(name)}" is not in the model catalogue: it is checked against the strictest limits in it, no cost is estimated, and Vertex decides whether it can be tuned (add it with MODEL_CATALOGUE to make this exact)`;
}

function isRetired(row: ModelSpec, nowMs: number): boolean {
  // [versions] the retirement date is "the last day that the model is available".
  return row.retiresOn !== null && nowMs >= Date.parse(`${row.retiresOn}T00:00:00Z`) + 24 * 3600_000;
}

/** The generation config that asks a model for its least thinking, for evaluation requests; none for a model that does not think or is unknown. */
export function leastThinkingConfig(name: string): { thinkingConfig: { thinkingLevel: string } | { thinkingBudget: number } } | undefined {
  const thinking = getModelSpec(name)?.thinking;
  if (!thinking) return undefined;
  return { thinkingConfig: 'level' in thinking ? { thinkingLevel: thinking.level } : { thinkingBudget: thinking.budget } };
}

export type ModelStanding =
  | { standing: 'available'; spec: ModelSpec; retiringSoon: boolean }
  | { standing: 'retired'; spec: ModelSpec; message: string }
  | { standing: 'unknown'; spec: ModelSpec; message: string };

/**
 * Whether a model may be tuned at `nowMs`: a catalogue model that has not retired; a retired one
 * is refused with its replacement named; an unknown id is let through on conservative limits.
 */
export function modelStanding(name: string, nowMs: number): ModelStanding {
  const spec = getModelSpec(name);
  if (!spec) {
    return { standing: 'unknown', spec: conservativeSpec(name), message: unknownModelMessage(name) };
  }
  if (isRetired(spec, nowMs)) {
    const instead = spec.replacement ? `: use ${spec.replacement}, the model Google names to replace it` : '';
    return {
      standing: 'retired',
      spec,
      message: `${spec.id} retired on ${spec.retiresOn} and can no longer be tuned${instead} (${MODEL_TABLE_SOURCE.lifecycle})`,
    };
  }
  // [versions] a month before retirement, new access to tuning is blocked.
  const retiringSoon = spec.retiresOn !== null && Date.parse(`${spec.retiresOn}T00:00:00Z`) - nowMs < 31 * 24 * 3600_000;
  return { standing: 'available', spec, retiringSoon };
}

/** The spec whose limits apply to a model: its row, or the conservative one for an unknown id. */
export function limitsFor(name: string): ModelSpec {
  return getModelSpec(name) ?? conservativeSpec(name);
}
