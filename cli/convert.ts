import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { z } from 'zod';
import { loadGemmaTokenizer } from '../adapters/tokenizer/index.ts';
import { ColumnMapError, parseColumnMap } from '../shared/convert/columns.ts';
import { convertStream, type LineSink } from '../shared/convert/pipeline.ts';
import { DEFAULT_MAX_RECORD_BYTES, UnusableInputError } from '../shared/convert/readers/errors.ts';
import type { RandomAccessInput } from '../shared/convert/readers/parquet.ts';
import { byteSizeSchema } from '../shared/byte-size.ts';
import { formatOptionSchema, methodOptionSchema, type ConversionReport } from '../shared/convert/types.ts';
import { DEFAULT_BASE_MODEL, modelStanding } from '../shared/gemini/models.ts';
import { availableParallelism } from 'node:os';
import { createConverterPool } from '../adapters/convert-pool/pool.ts';
import { createProgressBar } from './progress.ts';

export const convertArgsSchema = z.object({
  input: z.string().min(1),
  out: z.string().min(1, '--out DIR is required'),
  format: formatOptionSchema.default('auto'),
  method: methodOptionSchema.default('auto'),
  map: z.string().optional(),
  validationSplit: z.coerce.number().min(0).max(0.5).default(0.1),
  seed: z.coerce.number().int().default(42),
  baseModel: z.string().min(1).default(DEFAULT_BASE_MODEL),
  epochs: z.coerce.number().int().min(1).max(100).optional(),
  maxPartTokens: z.coerce.number().int().min(16).default(8192),
  /** A record over this many bytes is reported and skipped, never held: what bounds memory. */
  maxRecordBytes: byteSizeSchema(1024).default(DEFAULT_MAX_RECORD_BYTES),
  json: z.boolean().default(false),
  /** Worker threads for conversion; 'auto' uses every core for inputs over 32 MB. */
  threads: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(64)]).default('auto'),
  /** Write into a folder that holds files this tool did not write (none of theirs is ever written over). */
  force: z.boolean().default(false),
  /** Upload the local media files examples reference to gs://BUCKET/PREFIX, named by content hash. */
  upload: z
    .string()
    .regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](\/.*)?$/, '--upload must be gs://BUCKET or gs://BUCKET/PREFIX')
    .optional(),
  /** Where local media paths are looked up (default: the input's folder); nothing outside it is read. */
  mediaRoot: z.string().min(1).optional(),
});

/** The files a conversion writes into DIR; nothing else there is ever touched. */
const OUTPUT_FILES = ['train.jsonl', 'validation.jsonl', 'report.json'] as const;
export type ConvertArgs = z.infer<typeof convertArgsSchema>;

export const EXIT_OK = 0;
export const EXIT_SOME_INVALID = 1;
export const EXIT_UNUSABLE = 2;

/**
 * `sft-pipeline convert`: a raw file in, DIR/train.jsonl, DIR/validation.jsonl and
 * DIR/report.json out. Outputs are written to a temporary folder beside DIR and moved into
 * place at the end, so an unusable input (exit 2) leaves nothing behind and a reader of DIR
 * never sees half a dataset.
 */
export async function runConvert(args: ConvertArgs, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<number> {
  const input = resolve(args.input);
  const outDir = resolve(args.out);
  let columnMap;
  try {
    columnMap = args.map ? parseColumnMap(args.map) : undefined;
  } catch (error) {
    if (error instanceof ColumnMapError) return fail(io, error.message);
    throw error;
  }
  let size: number;
  try {
    const info = await stat(input);
    if (!info.isFile()) return fail(io, `${args.input}: not a file`);
    size = info.size;
  } catch (error) {
    return fail(io, `${args.input}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }

  const refusal = await outputRefusal(input, outDir, args.out, args.force);
  if (refusal) return fail(io, refusal);
  // A retired model is refused before anything is read or uploaded; an unknown one is warned in the report.
  const model = modelStanding(args.baseModel, Date.now());
  if (model.standing === 'retired') return fail(io, `--base-model ${model.message}`);
  if (args.mediaRoot && !args.upload)
    return fail(io, '--media-root is where --upload finds local media files: give --upload gs://BUCKET/PREFIX too');
  const mediaRoot = resolve(args.mediaRoot ?? dirname(input));
  if (
    args.upload &&
    !(await stat(mediaRoot).then(
      (info) => info.isDirectory(),
      () => false,
    ))
  )
    return fail(io, `--media-root ${args.mediaRoot}: not a folder`);
  // Loaded only when asked for: the cloud client costs memory a plain conversion must not carry.
  const prepareExample = args.upload ? await localMediaPreparer(mediaRoot, args.upload) : undefined;
  let staging: string;
  try {
    await mkdir(dirname(outDir), { recursive: true });
    staging = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.partial-`));
  } catch (error) {
    return fail(io, `--out ${args.out}: cannot write there (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const trainPath = join(staging, 'train.jsonl');
  const validationPath = join(staging, 'validation.jsonl');
  const train = createWriteStream(trainPath);
  const validation = createWriteStream(validationPath);
  const progress = createProgressBar(size, io.stderr);
  const threads = args.threads === 'auto' ? autoThreads(size, availableParallelism()) : args.threads;
  const pool = threads > 0 ? createConverterPool({ threads }) : undefined;
  let report: ConversionReport;
  // Parquet is read by byte range (its index is at the end of the file): the same file, opened once more.
  const handle = await open(input, 'r');
  try {
    report = await convertStream({
      randomAccess: fileRandomAccess(handle, size),
      input: createReadStream(input, { highWaterMark: 1024 * 1024 }),
      fileName: basename(input),
      format: args.format,
      method: args.method,
      columnMap,
      maxPartTokens: args.maxPartTokens,
      maxRecordBytes: args.maxRecordBytes,
      baseModel: args.baseModel,
      validationFraction: args.validationSplit,
      seed: args.seed,
      epochs: args.epochs ?? null,
      tokens: loadGemmaTokenizer(),
      converter: pool,
      ...(prepareExample ? { prepareExample, localMedia: 'upload' as const } : {}),
      sinks: { train: fileSink(train), validation: fileSink(validation) },
      onProgress: ({ bytes, records }) => progress.update(bytes, records),
    });
    await Promise.all([close(train), close(validation)]);
  } catch (error) {
    progress.done();
    // The staging files are thrown away: a write still queued fails once its stream is destroyed,
    // which is expected here and must not surface as an unhandled 'error' event.
    for (const stream of [train, validation]) stream.on('error', () => {}).destroy();
    await rm(staging, { recursive: true, force: true });
    await pool?.close();
    await handle.close();
    if (error instanceof UnusableInputError) return fail(io, `${args.input}: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EACCES' || code === 'ENOENT') return fail(io, `${args.input}: cannot be read (${code})`);
    throw error;
  }
  progress.done();
  await pool?.close();
  await handle.close();

  const { writeFile } = await import('node:fs/promises');
  try {
    await writeFile(join(staging, 'report.json'), JSON.stringify({ ...report, input: args.input }, null, 2) + '\n');
    const earlierOutput = await isOurOutput(outDir);
    await mkdir(outDir, { recursive: true });
    await rename(trainPath, join(outDir, 'train.jsonl'));
    // No empty validation file: with no validation examples there is none.
    if (report.split.validation > 0) await rename(validationPath, join(outDir, 'validation.jsonl'));
    // A validation file left by an earlier conversion of ours would not belong with this one; anyone else's stays.
    else if (earlierOutput) await rm(join(outDir, 'validation.jsonl'), { force: true });
    await rename(join(staging, 'report.json'), join(outDir, 'report.json'));
  } catch (error) {
    return fail(io, `--out ${args.out}: cannot write there (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  const finalReport = { ...report, input: args.input };
  io.stdout.write(args.json ? JSON.stringify(finalReport, null, 2) + '\n' : summarise(finalReport, outDir));
  return report.examples.invalid > 0 || report.errorCount > 0 ? EXIT_SOME_INVALID : EXIT_OK;
}

async function localMediaPreparer(root: string, target: string) {
  const [{ createObjectStore }, { localMediaUploader }] = await Promise.all([
    import('../adapters/storage/object-store.ts'),
    import('../adapters/storage/local-media.ts'),
  ]);
  return localMediaUploader({ root, target, objects: createObjectStore() });
}

/** A local file read by byte range, as Parquet is read. */
/**
 * Worker threads for `--threads auto`: one per core for an input over 32 MB, none (conversion on
 * the main thread) otherwise, and none on a single core: a lone worker shares that core with the
 * thread that reads and writes for it, and cloning records to it and back only adds work (1 GB of
 * JSONL on one pinned core: 72 s with a worker, 46 s without).
 */
export function autoThreads(inputBytes: number, cores: number): number {
  return inputBytes > 32 * 1024 * 1024 && cores > 1 ? cores : 0;
}

export function fileRandomAccess(handle: FileHandle, size: number): RandomAccessInput {
  return {
    byteLength: size,
    async slice(start, end) {
      const bytes = Buffer.alloc(end - start);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, start);
      return bytes.subarray(0, bytesRead);
    },
  };
}

function fileSink(stream: WriteStream): LineSink {
  return {
    write(line) {
      if (!stream.write(line)) return once(stream, 'drain').then(() => undefined);
    },
  };
}

async function close(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'close');
}

/**
 * Why the outputs may not go to DIR, or null: it must not be a file, must not hold the input under
 * one of the output names, and must be new, empty or an earlier output of this tool, unless
 * --force (which still never writes over the input).
 */
async function outputRefusal(input: string, outDir: string, shown: string, force: boolean): Promise<string | null> {
  if (OUTPUT_FILES.some((name) => join(outDir, name) === input)) {
    return `--out ${shown} would write over the input ${basename(input)}: choose another folder`;
  }
  let entries: string[];
  try {
    const info = await stat(outDir);
    if (!info.isDirectory()) return `--out ${shown} is a file, not a folder`;
    entries = await readdir(outDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return `--out ${shown}: cannot be read (${code ?? String(error)})`;
  }
  if (entries.length === 0 || (await isOurOutput(outDir))) return null;
  // Even with --force, a file of the same name that this tool did not write is never written over.
  const clash = OUTPUT_FILES.find((name) => entries.includes(name));
  if (clash) return `--out ${shown} holds a ${clash} this tool did not write: choose a new or empty folder (it is never written over)`;
  if (force) return null;
  const foreign = entries.filter((name) => !name.startsWith('.')).slice(0, 3);
  return `--out ${shown} holds files this tool did not write (${foreign.join(', ') || entries[0]}${entries.length > 3 ? ', …' : ''}): choose a new or empty folder, or add --force to write ${OUTPUT_FILES.join(', ')} beside them`;
}

/** Whether DIR holds only an earlier output of this tool (its report names what it converted). */
async function isOurOutput(outDir: string): Promise<boolean> {
  try {
    const entries = await readdir(outDir);
    if (!entries.every((name) => (OUTPUT_FILES as readonly string[]).includes(name))) return false;
    const report = JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8')) as Partial<ConversionReport>;
    return typeof report.input === 'string' && typeof report.examples === 'object';
  } catch {
    return false;
  }
}

function fail(io: { stderr: NodeJS.WritableStream }, message: string): number {
  io.stderr.write(`sft-pipeline convert: ${message}\n`);
  return EXIT_UNUSABLE;
}

/** The human summary: counts, where the files are, the first errors with their lines. */
export function summarise(report: ConversionReport, outDir: string): string {
  const lines = [
    `${report.input} (${report.format}) → ${outDir}, for ${report.method} tuning`,
    `  examples: ${report.examples.valid} valid, ${report.examples.invalid} rejected, of ${report.examples.total}`,
    `  split:    ${report.split.train} train, ${report.split.validation} validation`,
    `  tokens:   ${report.tokens.total} (mean ${report.tokens.perExample.mean}, p95 ${report.tokens.perExample.p95}, max ${report.tokens.perExample.max}); billable ${report.tokens.billable} for ${report.epochs} epoch(s)`,
    `  cost:     ${report.estimatedCost.usd === null ? 'unknown' : `about $${report.estimatedCost.usd.toFixed(2)}`} on ${report.estimatedCost.model}${typeof report.estimatedCost.evaluationUsd === 'number' ? `, evaluation at most $${report.estimatedCost.evaluationUsd.toFixed(2)}` : ''} (${report.estimatedCost.note ?? ''})`,
  ];
  if (report.errorCount > 0) {
    lines.push(`  errors:   ${report.errorCount} (first ones below; all in report.json)`);
    for (const error of report.errors.slice(0, 10)) {
      const where = error.path ? ` ${error.path}${error.convertedPath ? ` (${error.convertedPath})` : ''}` : '';
      lines.push(`    line ${error.line}${where}: ${error.code}: ${error.message}`);
    }
  }
  if (report.warningCount > 0) lines.push(`  warnings: ${report.warningCount} (see report.json)`);
  return lines.join('\n') + '\n';
}
