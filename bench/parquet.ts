/**
 * Parquet reading, printed (never asserted): the same ShareGPT records as nested Parquet (as
 * Hugging Face stores a dataset, row groups of 10,000 rows) and as JSONL, each converted in its own
 * child process (exact Gemini token counts, one thread), with time and peak RSS.
 * Usage: node bench/parquet.ts [--rows 200000]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadGemmaTokenizer } from '../adapters/tokenizer/index.ts';
import { fileRandomAccess } from '../cli/convert.ts';
import { convertStream } from '../shared/convert/pipeline.ts';
import { parquetFromRecords } from '../test/support/parquet.ts';

const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, child: { type: 'string' } } });

if (values.child) {
  const file = values.child;
  const size = statSync(file).size;
  const handle = await open(file, 'r');
  const started = performance.now();
  const sink = { write: () => undefined };
  const report = await convertStream({
    input: createReadStream(file, { highWaterMark: 1024 * 1024 }),
    randomAccess: fileRandomAccess(handle, size),
    fileName: basename(file),
    format: 'auto',
    maxPartTokens: 8192,
    baseModel: 'gemini-3.5-flash-lite',
    validationFraction: 0.1,
    seed: 42,
    epochs: 1,
    tokens: loadGemmaTokenizer(),
    sinks: { train: sink, validation: sink },
  });
  await handle.close();
  console.log(
    JSON.stringify({
      seconds: (performance.now() - started) / 1000,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      valid: report.examples.valid,
    }),
  );
} else {
  const rows = Number(values.rows);
  const dir = fileURLToPath(new URL('./.data/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const jsonl = `${dir}sharegpt-${rows}.jsonl`;
  const parquet = `${dir}sharegpt-${rows}.parquet`;
  if (!existsSync(parquet) || !existsSync(jsonl)) {
    const records = Array.from({ length: rows }, (_, i) => ({
      conversations: [
        {
          from: 'human',
          value: `Ticket ${i}: the export button is grey and the tooltip says no permission. ${'Please help. '.repeat(10)}`,
        },
        { from: 'gpt', value: `Category: bug. Ticket ${i} goes to the permissions team; ask the admin to grant export rights.` },
      ],
    }));
    writeFileSync(jsonl, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
    writeFileSync(parquet, Buffer.from(parquetFromRecords(records, { rowGroupSize: 10_000 })));
  }
  console.log(`Parquet reading benchmark: ${rows} ShareGPT records, one thread, exact token counts`);
  for (const file of [parquet, jsonl]) {
    const result = spawnSync(process.execPath, [self, '--child', file], { encoding: 'utf8' });
    if (result.status !== 0) {
      console.log(result.stderr);
      process.exitCode = 1;
      continue;
    }
    const figures = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { seconds: number; maxRssBytes: number; valid: number };
    const mb = statSync(file).size / 1e6;
    console.log(
      `  ${basename(file).padEnd(28)} ${mb.toFixed(1).padStart(7)} MB on disk  ${(rows / figures.seconds).toFixed(0).padStart(7)} records/s  ${figures.seconds.toFixed(1).padStart(6)} s  peak RSS ${(figures.maxRssBytes / 1e6).toFixed(0).padStart(5)} MB  (${figures.valid} valid)`,
    );
  }
}
