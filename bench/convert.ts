/**
 * Converter throughput and memory, printed (never asserted). Each measurement runs in its own
 * child process so its peak RSS is its own:
 *   convert      the full pipeline with exact Gemini token counts, in one thread
 *   convert-2t   the same on two worker threads (the CLI's default for large files)
 *   convert-256  `convert` with V8's heap capped as on a 256 MB Cloud Run function, showing
 *                what memory the conversion needs rather than what an uncapped V8 lets pile up
 *   no-tokens    the same pipeline with token counting switched off
 *   floor        a bare readline + JSON.parse loop over the same file (the floor for JSONL)
 *   python-csv   a plain standard-library Python csv → jsonl script (what users write today)
 * Usage: node bench/convert.ts [--sizes 10MB,1GB]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createConverterPool } from '../adapters/convert-pool/pool.ts';
import { loadGemmaTokenizer } from '../adapters/tokenizer/index.ts';
import { convertStream } from '../shared/convert/pipeline.ts';
import { ensureDataset, parseSize, type DataKind } from './data.ts';

const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '10MB,1GB' }, child: { type: 'string' }, file: { type: 'string' } },
});

if (values.child) {
  await measureInChild(values.child, values.file!);
} else {
  const sizes = values.sizes!.split(',').map(parseSize);
  console.log('converter benchmark (MB = 10^6 bytes; peak RSS of each run in its own process)');
  for (const size of sizes) {
    for (const kind of ['jsonl', 'csv'] as DataKind[]) {
      const file = await ensureDataset(kind, size);
      // Read once first, so the first mode measured does not pay for bringing the file into the page cache.
      for await (const _ of createReadStream(file, { highWaterMark: 1024 * 1024 }));
      const mb = statSync(file).size / 1e6;
      const rows: Record<string, { seconds: number; maxRssBytes: number }> = {};
      const modes =
        kind === 'jsonl'
          ? ['convert', 'convert-2t', 'convert-256', 'no-tokens', 'floor']
          : ['convert', 'convert-2t', 'convert-256', 'no-tokens', 'python-csv'];
      for (const mode of modes) rows[mode] = run(mode, file);
      console.log(`\n${kind.toUpperCase()} ${mb.toFixed(0)} MB`);
      for (const [mode, r] of Object.entries(rows)) {
        console.log(
          `  ${mode.padEnd(11)} ${(mb / r.seconds).toFixed(1).padStart(7)} MB/s  ${r.seconds.toFixed(1).padStart(7)} s  peak RSS ${(r.maxRssBytes / 1e6).toFixed(0).padStart(5)} MB`,
        );
      }
      const baseline = rows.floor ?? rows['python-csv']!;
      console.log(
        `  ratios: convert/no-tokens ${(rows['no-tokens']!.seconds / rows.convert!.seconds).toFixed(2)}×, convert/${rows.floor ? 'floor' : 'python-csv'} ${(baseline.seconds / rows.convert!.seconds).toFixed(2)}× (speed, >1 means faster)`,
      );
      // The bar for CSV: our validation without tokens against the script users would write instead.
      if (rows['python-csv'])
        console.log(`  no-tokens/python-csv ${(rows['python-csv'].seconds / rows['no-tokens']!.seconds).toFixed(2)}× (speed)`);
    }
  }
}

function run(mode: string, file: string): { seconds: number; maxRssBytes: number } {
  const command = mode === 'python-csv' ? 'python3' : process.execPath;
  const args =
    mode === 'python-csv'
      ? [fileURLToPath(new URL('./python/csv_to_jsonl.py', import.meta.url)), file, '/dev/null']
      : mode === 'convert-256'
        ? ['--max-old-space-size=128', self, '--child', 'convert', '--file', file]
        : [self, '--child', mode, '--file', file];
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`${mode} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { seconds: number; maxRssBytes: number };
}

async function measureInChild(mode: string, file: string): Promise<void> {
  const start = performance.now();
  if (mode === 'floor') {
    let records = 0;
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (line && JSON.parse(line)) records += 1;
    }
    if (records === 0) throw new Error('the floor read no records');
  } else {
    const sink = { write: () => {} };
    const tokens = mode === 'no-tokens' ? { count: () => 0 } : loadGemmaTokenizer();
    const pool = mode === 'convert-2t' ? createConverterPool({ threads: 2 }) : undefined;
    await convertStream({
      converter: pool,
      input: createReadStream(file, { highWaterMark: 1024 * 1024 }),
      fileName: file,
      format: 'auto',
      maxPartTokens: 8192,
      baseModel: 'gemini-3.5-flash-lite',
      validationFraction: 0.1,
      seed: 42,
      epochs: 1,
      tokens,
      sinks: { train: sink, validation: sink },
    });
    await pool?.close();
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
}
