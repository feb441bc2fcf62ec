import { assignSplit } from './assign-split.ts';
import { convertRecord } from './convert-record.ts';
import { parseJsonText } from './readers/jsonl.ts';
import type {
  ColumnMap,
  GeminiExample,
  RawFormat,
  RawRecord,
  RecordParseFailure,
  RecordResult,
  TokenCounter,
  TuningMethod,
  UnparsedLine,
} from './types.ts';

/**
 * Converting a batch of records, apart from the pipeline around it: what every worker thread of
 * the converter pool runs, so a worker loads only what converting needs.
 */

/** One record after conversion: the result and, for a valid example, its JSONL line and split. */
export interface ConvertedRecord {
  record: RawRecord | RecordParseFailure;
  result?: RecordResult;
  /** The serialized example (no newline) and the split its hash chose. */
  line?: string;
  split?: 'train' | 'validation';
}

export interface RecordBatchOptions {
  format: RawFormat;
  columnMap: ColumnMap | undefined;
  maxPartTokens: number;
  baseModel: string;
  seed: number;
  validationFraction: number;
  localMedia?: 'refuse' | 'upload';
  method?: TuningMethod;
  preferenceData?: boolean;
  /**
   * Send back only what the caller writes and reports (the JSONL line, split, issues, tokens):
   * not the raw record's value nor the example object, which the line already holds. A worker
   * pool's results are copied between threads; copying each example twice cost more than the
   * second core gave. Off when examples are prepared (prepareExample needs the object).
   */
  slim?: boolean;
}

/** The stand-in a slim result carries for an example its line holds: truthy, as a valid result's example is. */
const EXAMPLE_IN_LINE: GeminiExample = Object.freeze({ contents: [] }) as unknown as GeminiExample;

/**
 * Converts batches of records, in order. The default runs in this thread; the CLI passes a
 * worker-thread pool for large files. Either way the output is identical, record for record.
 */
export interface BatchConverter {
  convert(batch: BatchRecord[], options: RecordBatchOptions): Promise<ConvertedRecord[]>;
}

/** What a batch holds: records, failures, and JSON Lines text the converting thread parses. */
export type BatchRecord = RawRecord | RecordParseFailure | UnparsedLine;

/** Converts one batch in this thread: also what each worker of a pool runs. */
export function convertBatch(batch: BatchRecord[], options: RecordBatchOptions, tokens: TokenCounter): ConvertedRecord[] {
  return batch.map((item) => {
    const record = 'text' in item ? parseJsonText(item.text, item.line) : item;
    if ('code' in record) return { record };
    const result = convertRecord(record, options, tokens);
    const kept = options.slim ? slimRecord(record) : record;
    // A KTO answer waits for its pair in the caller, which needs its parts: never slimmed.
    if (!result.example) return { record: kept, result: options.slim && !result.judged ? slimResult(result) : result };
    const line = JSON.stringify(result.example);
    const split = assignSplit(line, options.seed, options.validationFraction);
    return { record: kept, result: options.slim ? slimResult(result) : result, line, split };
  });
}

function slimRecord(record: RawRecord): RawRecord {
  return { line: record.line, value: null, ...(record.item !== undefined ? { item: record.item } : {}) } as RawRecord;
}

function slimResult(result: RecordResult): RecordResult {
  const { located: _located, ...rest } = result;
  return { ...rest, example: result.example ? EXAMPLE_IN_LINE : null };
}
