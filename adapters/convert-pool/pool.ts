import { Worker } from 'node:worker_threads';
import {
  convertBatch,
  type BatchConverter,
  type BatchRecord,
  type ConvertedRecord,
  type RecordBatchOptions,
} from '../../shared/convert/convert-batch.ts';
import { modelOverrides } from '../../shared/gemini/models.ts';
import { gemmaTokenizerTables, loadGemmaTokenizer } from '../tokenizer/index.ts';

/**
 * Converts record batches on worker threads, one per core by default. The pipeline keeps the
 * batches in order, so the output is byte-identical to converting in one thread.
 */
export function createConverterPool(options: { threads: number }): BatchConverter & { close(): Promise<void> } {
  const tables = gemmaTokenizerTables();
  const workers = Array.from(
    { length: Math.max(1, options.threads) },
    () => new Worker(new URL('./worker.ts', import.meta.url), { workerData: { tables, models: modelOverrides() } }),
  );
  type Batch = BatchRecord[];
  const pending = new Map<
    number,
    { resolve: (value: ConvertedRecord[]) => void; reject: (error: Error) => void; batch: Batch; options: RecordBatchOptions }
  >();
  // A batch structured cloning cannot carry (a line nested thousands deep overflows its stack)
  // is converted here instead: the same code, so the same located error as in one thread.
  const inMainThread = (batch: Batch, batchOptions: RecordBatchOptions) => convertBatch(batch, batchOptions, loadGemmaTokenizer());
  let nextId = 0;
  let failure: Error | undefined;
  for (const worker of workers) {
    worker.on('message', (message: { id: number; converted?: ConvertedRecord[]; error?: string; uncloneable?: boolean }) => {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (!waiting) return;
      if (message.uncloneable) waiting.resolve(inMainThread(waiting.batch, waiting.options));
      else if (message.error !== undefined) waiting.reject(new Error(`converter worker failed: ${message.error}`));
      else waiting.resolve(message.converted!);
    });
    worker.on('error', (error) => {
      failure = error;
      for (const waiting of pending.values()) waiting.reject(error);
      pending.clear();
    });
  }
  return {
    convert(batch, batchOptions) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, batch, options: batchOptions });
        try {
          workers[id % workers.length]!.postMessage({ id, batch, options: batchOptions });
        } catch {
          pending.delete(id);
          resolve(inMainThread(batch, batchOptions));
        }
      });
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
