import { z } from 'zod';
import type { ExampleSources } from '../formats/mapping.ts';
import type { PartOrigins } from './locate-in-input.ts';

/**
 * The types that join the converter's pieces: readers (which turn bytes into raw records),
 * the domain (which turns one raw record into one Gemini tuning example, or located errors),
 * and the report every caller (CLI, converter function, simulator) writes. Keep them stable:
 * the CLI, the converter function and later stages all code against them.
 */

/** The raw formats the converter reads. `auto` is only an option value, never a detected format. */
export const rawFormatSchema = z.enum(['gemini', 'openai', 'sharegpt', 'alpaca', 'csv', 'tsv']);
export type RawFormat = z.infer<typeof rawFormatSchema>;
export const formatOptionSchema = z.union([rawFormatSchema, z.literal('auto')]);
export type FormatOption = z.infer<typeof formatOptionSchema>;

/** A located problem with one input record. `code` is a stable, searchable identifier. */
export const issueSchema = z.object({
  /** 1-based line of a JSONL record or CSV record start; 1-based item index in a JSON array. */
  line: z.number().int().nonnegative(),
  code: z.string().min(1),
  message: z.string().min(1),
  /**
   * Where in the record, as a JSON path in the input's own terms (`conversations[2].from`, a CSV
   * column, `contents[2].parts[0].text` for Gemini records); '' for the whole record.
   */
  path: z.string(),
  /** The same place in the converted Gemini example, when it differs (`contents[2].role`). */
  convertedPath: z.string().optional(),
});
export type Issue = z.infer<typeof issueSchema>;

/** One record as a reader yields it, before any format-specific interpretation. */
export interface RawRecord {
  line: number;
  /** In a JSON array: the item's 1-based index (several items can share a line). */
  item?: number;
  /** Parsed JSON for JSON formats; for CSV/TSV an object of header → cell text. */
  value: unknown;
}

/**
 * A JSON Lines record read but not parsed yet: its text goes to the thread that converts it
 * (parsing there, not on the reading thread, is what lets a worker pool scale).
 */
export interface UnparsedLine {
  line: number;
  text: string;
}

/** A record the reader could not even parse (bad JSON, a line over the byte limit, bad UTF-8). */
export interface RecordParseFailure {
  line: number;
  /** In a JSON array: the item's 1-based index. */
  item?: number;
  code: string;
  message: string;
  /** The field in the input's own terms, when the failure is in one (a CSV column). */
  path?: string;
}

/** Counts Gemini tokens in a text exactly; implementations may be shared across calls. */
export interface TokenCounter {
  count(text: string): number;
  /**
   * Where each token of `text` ends (UTF-16 offsets, ascending; byte-fallback tokens of one
   * character share its end): what lets a long text be split in one pass instead of a search.
   */
  tokenEnds?(text: string): ArrayLike<number>;
}

/** Which raw column (CSV/TSV) or field feeds which role; `--map user=question,model=answer`. */
export const columnMapSchema = z
  .object({
    user: z.string().min(1),
    model: z.string().min(1),
    system: z.string().min(1),
    file: z.string().min(1),
  })
  .partial();
export type ColumnMap = z.infer<typeof columnMapSchema>;

/** A Gemini tuning example, the shape of one line of the output JSONL. The zod schema lives in shared/gemini. */
export interface GeminiPart {
  text?: string;
  fileData?: { mimeType: string; fileUri: string };
  inlineData?: { mimeType: string; data: string };
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}
export interface GeminiContent {
  role: string;
  parts: GeminiPart[];
}
export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  parametersJsonSchema?: Record<string, unknown>;
  response?: Record<string, unknown>;
  responseJsonSchema?: Record<string, unknown>;
}
export interface GeminiExample {
  systemInstruction?: { role?: string; parts: GeminiPart[] };
  contents: GeminiContent[];
  tools?: { functionDeclarations: GeminiFunctionDeclaration[] }[];
  /** Preference tuning only: the preferred (score 1) and dispreferred (score 0) model turns. */
  completions?: { score: number; completion: GeminiContent }[];
}

/** The tuning method a dataset is converted for: Vertex's supervised or preference tuning. */
export const tuningMethodSchema = z.enum(['supervised', 'preference']);
export type TuningMethod = z.infer<typeof tuningMethodSchema>;
export const methodOptionSchema = z.union([tuningMethodSchema, z.literal('auto')]);
export type MethodOption = z.infer<typeof methodOptionSchema>;

export interface ConvertOptions {
  format: RawFormat;
  columnMap?: ColumnMap;
  /** Text parts longer than this many tokens are split into consecutive parts. Default 8192. */
  maxPartTokens: number;
  /** The base model whose limits apply, e.g. `gemini-3.5-flash-lite`. */
  baseModel: string;
  /** `upload`: local media paths are uploaded by the caller (a warning, not an error). */
  localMedia?: 'refuse' | 'upload';
  /** What the output is for (default supervised), and whether the file holds preference data. */
  method?: TuningMethod;
  preferenceData?: boolean;
}

/** What converting one record gives. A rejected record has `example: null` and at least one error. */
export interface RecordResult {
  line: number;
  example: GeminiExample | null;
  errors: Issue[];
  warnings: Issue[];
  /** Tokens of the whole example (system instruction and all turns), as counted by the TokenCounter. */
  tokens: number;
  /** Set when the example has any fileData/inlineData part (multimodal limits apply to the dataset). */
  multimodal: boolean;
  /** A record with nothing in it (an empty CSV row): neither an example nor an error. */
  skipped?: boolean;
  /**
   * A KTO answer bound for preference tuning: not an example by itself, but one half of a pair
   * the pipeline makes with an answer to the same prompt judged the other way.
   */
  judged?: { prompt: GeminiExample; answer: GeminiPart[]; desirable: boolean };
  /** Where the example's turns and parts came from in the input, for issues found after conversion (media checks). */
  located?: { sources: ExampleSources; origins: PartOrigins };
}

export const tokenStatsSchema = z.object({
  total: z.number().int().nonnegative(),
  perExample: z.object({
    mean: z.number().nonnegative(),
    p95: z.number().nonnegative(),
    max: z.number().nonnegative(),
  }),
  /** (total + 8 per example) × epochs: the padding Google's own cost notebook adds. */
  billable: z.number().int().nonnegative(),
});

export const estimatedCostSchema = z.object({
  model: z.string(),
  /** null when the model's training price is not in the table: we say so rather than guess. */
  usd: z.number().nonnegative().nullable(),
  pricePerMillionTokensUsd: z.number().nonnegative().nullable(),
  /**
   * Evaluation's batch inference on the validation split, for the base and the tuned model: null
   * when the model's batch price is not in the catalogue (or there is no validation split).
   */
  evaluationUsd: z.number().nonnegative().nullable().optional(),
  source: z.string(),
  note: z.string().optional(),
});

export const reportSchema = z.object({
  input: z.string(),
  format: rawFormatSchema,
  /** Which tuning the output is for: supervised examples, or preference pairs. */
  method: tuningMethodSchema,
  baseModel: z.string(),
  epochs: z.number().int().positive(),
  examples: z.object({
    total: z.number().int().nonnegative(),
    valid: z.number().int().nonnegative(),
    invalid: z.number().int().nonnegative(),
  }),
  errors: z.array(issueSchema),
  /** How many errors there were in all; `errors` keeps the first N so the report stays small. */
  errorCount: z.number().int().nonnegative(),
  warnings: z.array(issueSchema),
  warningCount: z.number().int().nonnegative(),
  tokens: tokenStatsSchema,
  estimatedCost: estimatedCostSchema,
  split: z.object({
    train: z.number().int().nonnegative(),
    validation: z.number().int().nonnegative(),
  }),
});
export type ConversionReport = z.infer<typeof reportSchema>;
