import { getModelSpec, limitsFor, unknownModelMessage } from '../gemini/models.ts';
import { DatasetLimitsTracker } from '../gemini/dataset-limits.ts';
import { detectFormat, detectJsonFormat } from '../formats/detect.ts';
import { assignSplit } from './assign-split.ts';
import { ColumnMapError, resolveColumns } from './columns.ts';
import { checkPreferenceExample } from './convert-record.ts';
import { locateInInput } from './locate-in-input.ts';
import { JudgedPairer } from './pair-judged.ts';
import { preferenceKindOf } from '../formats/preference.ts';
import type { RecordResult } from './types.ts';
import { readDelimited } from './readers/delimited.ts';
import { describeBinaryInput, isParquet } from './binary-formats.ts';
import { decodeInput, inputEncoding, type InputEncoding } from './decode-input.ts';
import { UnusableInputError } from './readers/errors.ts';
import { readJsonArray } from './readers/json-array.ts';
import { parseJsonText, readJsonLines } from './readers/jsonl.ts';
import { openParquet, type RandomAccessInput } from './readers/parquet.ts';
import { ReportBuilder } from './report.ts';
import { convertBatch, type BatchConverter, type BatchRecord, type ConvertedRecord, type RecordBatchOptions } from './convert-batch.ts';
import type {
  ColumnMap,
  ConversionReport,
  FormatOption,
  GeminiExample,
  Issue,
  MethodOption,
  RawFormat,
  RawRecord,
  RecordParseFailure,
  TokenCounter,
  TuningMethod,
} from './types.ts';

/** What a media preparer makes of a converted example (functions/converter/media.ts, the CLI's uploads). */
export interface PreparedExample {
  errors: Issue[];
  /** The example to write instead (media moved to gs://), when it changed. */
  example?: GeminiExample;
  /** Warnings of the converted example that no longer hold, by code (https media once copied). */
  resolved?: string[];
}

/** Where converted lines go; `write` may return a promise to apply backpressure. */
export interface LineSink {
  write(line: string): void | Promise<void>;
}

export interface ConvertStreamOptions {
  input: AsyncIterable<Uint8Array>;
  /** The input's name, for format detection by extension and for the report. */
  fileName: string;
  format: FormatOption;
  columnMap?: ColumnMap;
  maxPartTokens: number;
  baseModel: string;
  validationFraction: number;
  seed: number;
  epochs: number | null;
  tokens: TokenCounter;
  /** Defaults to converting in this thread with `tokens`. */
  converter?: BatchConverter;
  /**
   * Extra work on a valid example that needs I/O (the converter function opens every
   * referenced gs:// file, and may copy https media into Cloud Storage); an example with errors
   * is rejected with them on its line, a returned example replaces the converted one.
   */
  prepareExample?: (example: GeminiExample, line: number) => PreparedExample | Promise<PreparedExample>;
  /** The same input by byte range, when the caller can read it so: what Parquet files are read through. */
  randomAccess?: RandomAccessInput;
  /** `upload` when `prepareExample` uploads local media files (and resolves `local_media_path`). */
  localMedia?: 'refuse' | 'upload';
  /** The tuning the output is for; `auto` (the default): preference when the file holds preference data. */
  method?: MethodOption;
  sinks: { train: LineSink; validation: LineSink };
  maxRecordBytes?: number;
  onProgress?: (progress: { bytes: number; records: number }) => void;
}

/**
 * The whole conversion of one input, streamed: bytes → records → Gemini examples → JSONL lines
 * in the train/validation sinks, and the report. The CLI passes file streams, the converter
 * function passes Cloud Storage streams; nothing here touches a file system or a network.
 * Throws UnusableInputError when the input as a whole cannot be converted.
 */
export async function convertStream(options: ConvertStreamOptions): Promise<ConversionReport> {
  const counted = countBytes(options.input, options.onProgress);
  const peeked = await peek(counted.stream);
  let { stream: sniffed, head } = peeked;
  if (head.length === 0) throw new UnusableInputError('the file is empty');
  // gzip and UTF-16 are read as the UTF-8 text they hold (gzip of UTF-16 too).
  let fileName = options.fileName;
  let layer = 0;
  for (let encoding = inputEncoding(head); encoding && layer < 2; layer++, encoding = inputEncoding(head)) {
    const decoded = decodeInput(sniffed, encoding, fileName);
    fileName = decoded.fileName;
    ({ stream: sniffed, head } = await peekDecoded(decoded.stream, encoding));
    if (head.length === 0) throw new UnusableInputError(`the file is empty once ${encoding === 'gzip' ? 'decompressed' : 'decoded'}`);
  }
  const parquet = isParquet(head) && options.randomAccess && layer === 0 ? await openParquet(options.randomAccess) : null;
  if (parquet) await peeked.close();
  const binary = parquet ? null : describeBinaryInput(head, fileName);
  if (binary) throw new UnusableInputError(binary);
  if (!parquet && head.includes(0))
    throw new UnusableInputError(
      'the file is not text (it contains NUL bytes) and is no format this tool recognises: export it as UTF-8 JSONL or CSV',
    );

  const byExtension = detectFormat(fileName, undefined);
  const requested = options.format === 'auto' ? byExtension : options.format;
  let records: AsyncIterable<BatchRecord>;
  let format: RawFormat;
  let columnMap: ColumnMap | undefined;
  let preferenceData = false;
  if (parquet) {
    // Rows of nested columns read as the JSON formats; rows of plain columns as CSV rows, by column name.
    const detected = await detectFromFirstRecords(parquet.records, options.format === 'auto' ? null : options.format, true);
    format = detected.format;
    preferenceData = detected.preference;
    records = detected.records;
    if (format === 'csv' || format === 'tsv') {
      try {
        columnMap = resolveColumns(parquet.columns, options.columnMap);
      } catch (error) {
        if (error instanceof ColumnMapError) throw new UnusableInputError(error.message);
        throw error;
      }
      records = cellsAsText(records);
    }
  } else if (requested === 'csv' || requested === 'tsv') {
    const delimited = await readDelimited(sniffed, requested === 'csv' ? ',' : '\t', options);
    try {
      columnMap = resolveColumns(delimited.header, options.columnMap);
    } catch (error) {
      if (error instanceof ColumnMapError) throw new UnusableInputError(error.message);
      throw error;
    }
    records = delimited.records;
    format = requested;
  } else {
    const first = firstNonSpace(head);
    // JSON Lines are parsed where they are converted (worker threads, with a pool).
    const reader = first === 0x5b ? readJsonArray(sniffed, options) : readJsonLines(sniffed, { ...options, deferParse: true });
    if (first !== 0x5b && first !== 0x7b) {
      throw new UnusableInputError('format not recognised: expected JSON Lines, a JSON array, or a .csv/.tsv file with a header');
    }
    const detected = await detectFromFirstRecords(reader, requested);
    format = detected.format;
    records = detected.records;
    preferenceData = detected.preference;
  }
  const method: TuningMethod =
    options.method === undefined || options.method === 'auto' ? (preferenceData ? 'preference' : 'supervised') : options.method;
  if (method === 'preference' && !preferenceData) {
    throw new UnusableInputError(
      'preference tuning needs preference data (chosen/rejected answers, or KTO answers labelled true/false), and the first records of this file hold none',
    );
  }

  const report = new ReportBuilder();
  const limits = new DatasetLimitsTracker(limitsFor(options.baseModel), method);
  const batchOptions: RecordBatchOptions = {
    format,
    columnMap,
    maxPartTokens: options.maxPartTokens,
    baseModel: options.baseModel,
    seed: options.seed,
    validationFraction: options.validationFraction,
    ...(options.localMedia ? { localMedia: options.localMedia } : {}),
    method,
    preferenceData,
    // Results cross threads only with a pool; prepared examples need their objects.
    ...(options.converter && !options.prepareExample ? { slim: true } : {}),
  };
  const converter = options.converter ?? { convert: async (batch, o) => convertBatch(batch, o, options.tokens) };
  let lastLine = 0;
  let recordCount = 0;
  // Validation-bound examples wait until training has one: a small file's only examples must
  // never all land in validation (Vertex needs a training file; the split is a hash, so with a
  // handful of examples it can put every one aside). Bounded: past the cap they go on as hashed.
  let trainWritten = 0;
  const heldForValidation: { written: string; result: RecordResult; line: number }[] = [];
  let heldBytes = 0;
  // Placing and accepting return a promise only while a sink is full: an await per example
  // otherwise cost a promise and a microtask each, for nothing (bench/convert.ts).
  const place = (written: string, result: RecordResult, line: number, split: 'train' | 'validation'): void | Promise<void> => {
    const placed = limits.place(split);
    for (const issue of limits.add(placed, Buffer.byteLength(written) + 1, result.multimodal, line)) report.addError(issue);
    const full = options.sinks[placed].write(written + '\n');
    report.addResult(result, placed);
    if (placed === 'train') trainWritten += 1;
    return full;
  };
  const releaseHeld = async (split: 'train' | 'validation') => {
    for (const held of heldForValidation.splice(0)) await place(held.written, held.result, held.line, split);
    heldBytes = 0;
  };
  // A valid example on its way out: to its split, or held while training has none yet.
  const accept = (written: string, result: RecordResult, line: number, split: 'train' | 'validation'): void | Promise<void> => {
    if (split === 'validation' && trainWritten === 0 && heldForValidation.length < HOLD_MAX_EXAMPLES && heldBytes < HOLD_MAX_BYTES) {
      heldForValidation.push({ written, result, line });
      heldBytes += Buffer.byteLength(written);
      return;
    }
    const full = place(written, result, line, split);
    if (trainWritten > 0 && heldForValidation.length > 0)
      return full ? full.then(() => releaseHeld('validation')) : releaseHeld('validation');
    return full;
  };
  const pairer = new JudgedPairer();
  let judgedCount = 0;
  // A KTO answer for preference tuning waits for its other half; the pair is one example, on the later line.
  const pairJudged = async (result: RecordResult, record: RawRecord) => {
    judgedCount += 1;
    for (const warning of result.warnings) report.addWarning(warning);
    const paired = pairer.add(result.judged!, record.line, record.item);
    if (!paired) return;
    if ('leftOut' in paired) return report.addWarning(paired.leftOut);
    let checked = checkPreferenceExample(record.line, paired.example, [], batchOptions, options.tokens);
    if (record.item !== undefined) checked = withItemPaths(checked, record.item);
    if (!checked.example) return report.addResult(checked);
    const written = JSON.stringify(checked.example);
    await accept(written, checked, record.line, assignSplit(written, options.seed, options.validationFraction));
  };
  const write = async (converted: ConvertedRecord[]) => {
    for (const item of converted) {
      const { record, line, split } = item;
      let result = item.result;
      lastLine = record.line;
      if ('code' in record) {
        report.addParseFailure(record);
        continue;
      }
      if (!result) continue;
      // In a JSON array the item's place leads each path: items can share a physical line.
      if (record.item !== undefined) result = withItemPaths(result, record.item);
      if (result.judged) {
        await pairJudged(result, record);
        continue;
      }
      if (!line || !split) {
        report.addResult(result);
        continue;
      }
      let written = line;
      if (options.prepareExample && result.example) {
        // Awaited only when the preparer has something to wait for (an example with media files).
        const preparing = options.prepareExample(result.example, record.line);
        const prepared = preparing instanceof Promise ? await preparing : preparing;
        const warnings = prepared.resolved ? result.warnings.filter((w) => !prepared.resolved!.includes(w.code)) : result.warnings;
        if (prepared.errors.length > 0) {
          const where = result.located;
          const errors = where ? prepared.errors.map((issue) => locateInInput(issue, where.sources, where.origins)) : prepared.errors;
          const rejected = { ...result, example: null, errors, warnings: [] };
          const placed = record.item !== undefined ? withItemPaths(rejected, record.item) : rejected;
          report.addResult({ ...placed, warnings });
          continue;
        }
        if (prepared.example || warnings !== result.warnings) result = { ...result, example: prepared.example ?? result.example, warnings };
        if (prepared.example) written = JSON.stringify(prepared.example);
      }
      const full = accept(written, result, record.line, split);
      if (full) await full;
    }
  };
  // Batches go out in order and come back in order; at most `inFlight` are pending, so memory
  // stays bounded while every worker has work.
  const inFlight: Promise<ConvertedRecord[]>[] = [];
  const maxInFlight = options.converter ? 8 : 1;
  let batch: BatchRecord[] = [];
  for await (const record of records) {
    recordCount += 1;
    batch.push(record);
    // Small in this thread: what a batch holds survives young-generation collections, which copy
    // it (scavenging 348 -> 248 ms on 100 MB of CSV); large to a pool, whose every batch is a message.
    if (batch.length >= (options.converter ? 128 : 32)) {
      inFlight.push(converter.convert(batch, batchOptions));
      batch = [];
      if (inFlight.length >= maxInFlight) await write(await inFlight.shift()!);
      counted.report(recordCount);
    }
  }
  if (batch.length > 0) inFlight.push(converter.convert(batch, batchOptions));
  while (inFlight.length > 0) await write(await inFlight.shift()!);
  counted.report(recordCount);
  for (const warning of pairer.finish()) report.addWarning(warning);
  if (heldForValidation.length > 0) {
    // Nothing went to training: every valid example does, and there is no validation set.
    report.addWarning({
      line: 0,
      code: 'validation_split_skipped',
      message: `all ${heldForValidation.length} valid example(s) fell in the validation share: they went to training instead, and there is no validation set`,
      path: '',
    });
    await releaseHeld('train');
  }
  if (report.validExamples + report.invalidExamples === 0 && judgedCount === 0) throw new UnusableInputError('the file holds no examples');
  if (preferenceData && method === 'supervised') {
    report.addWarning({
      line: 0,
      code: 'preference_chosen_only',
      message:
        'the file holds preference data, converted for supervised tuning: each pair became its chosen answer (the rejected one is unused), and a KTO answer only when labelled true; convert with --method preference (sidecar "method": "preference") for preference tuning',
      path: '',
    });
  }
  if (trainWritten === 0) {
    report.addError({
      line: 0,
      code: 'no_training_examples',
      message: 'no example is valid: the training file would be empty, so nothing can be tuned from this file',
      path: '',
    });
  } else if (trainWritten < RECOMMENDED_TRAINING_EXAMPLES) {
    report.addWarning({
      line: 0,
      code: 'few_training_examples',
      message: `${trainWritten} training example(s); Google recommends starting with ${RECOMMENDED_TRAINING_EXAMPLES} ("Prepare supervised fine-tuning data for Gemini models")`,
      path: '',
    });
  }
  const overflow = limits.overflowWarning(lastLine);
  if (overflow) report.addWarning(overflow);
  if (getModelSpec(options.baseModel) === undefined) {
    report.addWarning({ line: 0, code: 'unknown_base_model', message: unknownModelMessage(options.baseModel), path: '' });
  }
  return report.finish({ input: options.fileName, format, method, baseModel: options.baseModel, epochs: options.epochs });
}

function withItemPaths(result: RecordResult, item: number): RecordResult {
  const at = (path: string) => (path ? `[${item - 1}].${path}` : `[${item - 1}]`);
  const place = (issue: Issue): Issue => ({
    ...issue,
    path: at(issue.path),
    ...(issue.convertedPath !== undefined ? { convertedPath: at(issue.convertedPath) } : {}),
  });
  return { ...result, errors: result.errors.map(place), warnings: result.warnings.map(place) };
}

/** Google: "For best results, we recommend that you start with 100 examples" (Prepare supervised fine-tuning data for Gemini models). */
const RECOMMENDED_TRAINING_EXAMPLES = 100;
const HOLD_MAX_EXAMPLES = 10_000;
const HOLD_MAX_BYTES = 64 * 1024 * 1024;

/** Detects a JSON format from the first records that parse; keeps every record for the caller. */
async function detectFromFirstRecords(
  reader: AsyncGenerator<BatchRecord>,
  requested: RawFormat | null,
  tabularFallback = false,
): Promise<{ format: RawFormat; preference: boolean; records: AsyncIterable<BatchRecord> }> {
  const buffered: (RawRecord | RecordParseFailure)[] = [];
  let format: RawFormat | null = requested;
  let firstParsed: RawRecord | undefined;
  // The first record that parses decides the format (unless given) and whether it is preference data.
  while ((format === null || firstParsed === undefined) && buffered.length < 20) {
    const next = await reader.next();
    if (next.done) break;
    // The first records are parsed here, to tell the format; the rest where they are converted.
    const value = 'text' in next.value ? parseJsonText(next.value.text, next.value.line) : next.value;
    buffered.push(value);
    if (!('code' in value)) {
      firstParsed ??= value;
      format ??= detectJsonFormat(value.value);
    }
  }
  // A table of plain columns (Parquet) is read as CSV rows are, its columns found by name.
  if (format === null && tabularFallback && firstParsed && isFlat(firstParsed.value)) format = 'csv';
  if (format === null) {
    const parsed = buffered.some((r) => !('code' in r));
    throw new UnusableInputError(
      parsed
        ? 'format not recognised: records need "contents" (Gemini), "messages" (OpenAI chat), "conversations" (ShareGPT) or "instruction"/"output" (Alpaca); or pass --format'
        : 'format not recognised: the first records are not valid JSON',
    );
  }
  async function* all() {
    yield* buffered;
    yield* reader;
  }
  return { format, preference: firstParsed !== undefined && preferenceKindOf(firstParsed.value) !== null, records: all() };
}

function isFlat(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.values(value).every((cell) => cell === null || typeof cell !== 'object');
}

/** Parquet cells as the text a CSV row holds (numbers and booleans written out, nulls empty). */
async function* cellsAsText(records: AsyncIterable<BatchRecord>): AsyncGenerator<BatchRecord> {
  for await (const record of records) {
    // Parquet rows arrive parsed: no JSON Lines text reaches here.
    if ('code' in record || 'text' in record) yield record;
    else
      yield {
        ...record,
        value: Object.fromEntries(
          Object.entries(record.value as Record<string, unknown>).map(([key, cell]) => [
            key,
            cell === null || cell === undefined ? '' : String(cell),
          ]),
        ),
      };
  }
}

function countBytes(input: AsyncIterable<Uint8Array>, onProgress: ConvertStreamOptions['onProgress']) {
  let bytes = 0;
  let records = 0;
  return {
    stream: (async function* () {
      for await (const chunk of input) {
        bytes += chunk.length;
        yield chunk;
      }
    })(),
    report(count: number) {
      records = count;
      onProgress?.({ bytes, records });
    },
  };
}

/** `peek` of a decoded stream, naming a broken gzip or UTF-16 file as such. */
async function peekDecoded(stream: AsyncIterable<Uint8Array>, encoding: InputEncoding): ReturnType<typeof peek> {
  try {
    return await peek(stream);
  } catch (error) {
    const what = encoding === 'gzip' ? 'gzip data' : `${encoding.toUpperCase()} text`;
    throw new UnusableInputError(
      `the file looks like ${what} but cannot be read as such (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** The first bytes of a stream (at least 4 KB unless it is shorter) and the whole stream again. */
async function peek(
  input: AsyncIterable<Uint8Array>,
): Promise<{ stream: AsyncIterable<Uint8Array>; head: Uint8Array; close: () => Promise<unknown> }> {
  const iterator = input[Symbol.asyncIterator]();
  const taken: Uint8Array[] = [];
  let size = 0;
  while (size < 4096) {
    const next = await iterator.next();
    if (next.done) break;
    taken.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(taken);
  return {
    head,
    // A file read another way (Parquet, by range) lets go of its stream.
    close: async () => iterator.return?.(),
    stream: (async function* () {
      yield* taken;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    })(),
  };
}

function firstNonSpace(bytes: Uint8Array): number | undefined {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  for (; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  }
  return undefined;
}
