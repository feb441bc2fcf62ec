import { parseArgs } from 'node:util';
import { convertArgsSchema, EXIT_UNUSABLE, runConvert } from './convert.ts';
import { PIPELINE_USAGE } from './pipeline-usage.ts';
import { modelCatalogueSchema } from '../shared/config/common.ts';
import { useModelOverrides } from '../shared/gemini/models.ts';

const USAGE = `usage: sft-pipeline convert INPUT --out DIR [options]

Converts a raw dataset (Gemini JSONL, OpenAI chat, ShareGPT, Alpaca, CSV/TSV) into Vertex AI
Gemini tuning JSONL, with a report of every rejected example.

options:
  --format auto|gemini|openai|sharegpt|alpaca|csv|tsv   (default: auto)
  --map ROLE=COLUMN,...        CSV/TSV columns for user, model, system, file
  --method auto|supervised|preference
                               what the output is for (default auto: preference tuning when the file
                               holds preference data: DPO chosen/rejected pairs, KTO labels)
  --validation-split F         share of examples for validation, 0 to 0.5 (default 0.1)
  --seed N                     seed of the stable train/validation split (default 42)
  --base-model NAME            whose limits and price apply (default gemini-3.5-flash-lite; a retired
                               model is refused naming its replacement, an unknown one warned)
  --epochs N                   for the billable-token and cost estimate
  --max-part-tokens N          split longer text parts (default 8192)
  --max-record-bytes SIZE      a record (line, row, item) over this is reported, not read (default 8MiB)
  --json                       print the report as JSON instead of a summary
  --threads N|auto             worker threads (default auto: one per core for inputs over 32 MB, on 2+ cores)
  --force                      write into a folder holding other files (none of them is ever written over)
  --upload gs://BUCKET/PREFIX  upload the local media files examples name (LLaMA-Factory's images,
                               videos, audios) there, once each by content hash, and point the
                               examples at them
  --media-root DIR             where those local paths are found (default: the input's folder);
                               nothing outside it is read

exit status: 0 all examples valid; 1 some rejected (valid ones written); 2 input unusable

${PIPELINE_USAGE}`;

export async function main(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  // The operator's model rows (MODEL_CATALOGUE) apply to the CLI as to the functions.
  const models = modelCatalogueSchema.safeParse(process.env.MODEL_CATALOGUE);
  try {
    if (!models.success)
      throw new Error(`MODEL_CATALOGUE: ${models.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    useModelOverrides(models.data);
  } catch (error) {
    io.stderr.write(`sft-pipeline: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_UNUSABLE;
  }
  if (command !== undefined && ['upload', 'launch', 'status', 'cancel', 'retry', 'examples'].includes(command)) {
    // Loaded on demand: the cloud clients cost ~100 MB of memory that `convert` must not carry.
    const { pipelineCommand } = await import('./pipeline.ts');
    return pipelineCommand(command, rest, { ...io, env: process.env });
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(USAGE + '\n');
    return command === undefined ? EXIT_UNUSABLE : 0;
  }
  if (command !== 'convert') {
    io.stderr.write(`sft-pipeline: unknown command "${command}"\n${USAGE}\n`);
    return EXIT_UNUSABLE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        format: { type: 'string' },
        method: { type: 'string' },
        map: { type: 'string' },
        'validation-split': { type: 'string' },
        seed: { type: 'string' },
        'base-model': { type: 'string' },
        epochs: { type: 'string' },
        'max-part-tokens': { type: 'string' },
        'max-record-bytes': { type: 'string' },
        json: { type: 'boolean' },
        threads: { type: 'string' },
        force: { type: 'boolean' },
        upload: { type: 'string' },
        'media-root': { type: 'string' },
      },
    });
  } catch (error) {
    io.stderr.write(`sft-pipeline convert: ${(error as Error).message}\n`);
    return EXIT_UNUSABLE;
  }
  if (parsed.positionals.length !== 1) {
    io.stderr.write(`sft-pipeline convert: expected one INPUT file, got ${parsed.positionals.length}\n`);
    return EXIT_UNUSABLE;
  }
  const { values } = parsed;
  const args = convertArgsSchema.safeParse({
    input: parsed.positionals[0],
    out: values.out ?? '',
    format: values.format,
    method: values.method,
    map: values.map,
    validationSplit: values['validation-split'],
    seed: values.seed,
    baseModel: values['base-model'],
    epochs: values.epochs,
    maxPartTokens: values['max-part-tokens'],
    maxRecordBytes: values['max-record-bytes'],
    json: values.json ?? false,
    threads: values.threads,
    force: values.force ?? false,
    upload: values.upload,
    mediaRoot: values['media-root'],
  });
  if (!args.success) {
    const problems = args.error.issues.map((issue) => `--${kebab(String(issue.path[0] ?? ''))}: ${issue.message}`);
    io.stderr.write(`sft-pipeline convert: ${problems.join('; ')}\n`);
    return EXIT_UNUSABLE;
  }
  return runConvert(args.data, io);
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
