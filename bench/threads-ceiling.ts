/**
 * What two threads can give on this machine, apart from how the pool coordinates them: the
 * records of a JSONL file converted (with exact tokens) by one worker thread, then by two that
 * each take half and never talk to each other. The ratio is the ceiling for the converter pool
 * here; `bench/convert.ts` shows what the pool reaches. Nothing is asserted.
 * Usage: node bench/threads-ceiling.ts [--size 30MB]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { gemmaTokenizerTables } from '../adapters/tokenizer/index.ts';
import { convertBatch, type RecordBatchOptions } from '../shared/convert/convert-batch.ts';
import { BpeTokenizer, type BpeTables } from '../shared/tokenizer/bpe.ts';
import { ensureDataset, parseSize } from './data.ts';

const options: RecordBatchOptions = {
  format: 'openai',
  columnMap: undefined,
  maxPartTokens: 8192,
  baseModel: 'gemini-3.5-flash-lite',
  seed: 42,
  validationFraction: 0.1,
  slim: true,
};

if (isMainThread) {
  const { values } = parseArgs({ options: { size: { type: 'string', default: '30MB' } } });
  const file = await ensureDataset('jsonl', parseSize(values.size!));
  const tables = gemmaTokenizerTables();
  /** Seconds of converting (start-up and reading the file excluded) of the slowest of `threads` workers. */
  const convertOn = async (threads: number) => {
    const seconds = await Promise.all(
      Array.from(
        { length: threads },
        (_, part) =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(new URL(import.meta.url), { workerData: { tables, file, part, parts: threads } });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    return Math.max(...seconds);
  };
  const one = await convertOn(1);
  const two = await convertOn(2);
  console.log(
    `threads ceiling (${values.size} JSONL, independent halves): one thread ${one.toFixed(2)} s, two threads ${two.toFixed(2)} s, ${(one / two).toFixed(2)}×`,
  );
} else {
  const { tables, file, part, parts } = workerData as { tables: BpeTables; file: string; part: number; parts: number };
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const mine = lines.slice(Math.floor((part * lines.length) / parts), Math.floor(((part + 1) * lines.length) / parts));
  const tokens = new BpeTokenizer(tables);
  const start = performance.now();
  for (let i = 0; i < mine.length; i += 128)
    convertBatch(
      mine.slice(i, i + 128).map((text, j) => ({ text, line: i + j + 1 })),
      options,
      tokens,
    );
  parentPort!.postMessage((performance.now() - start) / 1000);
}
