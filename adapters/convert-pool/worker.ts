import { parentPort, workerData } from 'node:worker_threads';
import { convertBatch, type BatchRecord, type RecordBatchOptions } from '../../shared/convert/convert-batch.ts';
import { useModelOverrides, type ModelOverride } from '../../shared/gemini/models.ts';
import { BpeTokenizer, type BpeTables } from '../../shared/tokenizer/bpe.ts';

// The merge tables arrive as shared memory: a worker costs its word cache, not a vocabulary.
const tokenizer = new BpeTokenizer((workerData as { tables: BpeTables }).tables);
// The operator's model rows, as the main thread has them: the same limits in every thread.
useModelOverrides((workerData as { models: ModelOverride[] }).models);

parentPort!.on('message', (message: { id: number; batch: BatchRecord[]; options: RecordBatchOptions }) => {
  let converted;
  try {
    converted = convertBatch(message.batch, message.options, tokenizer);
  } catch (error) {
    parentPort!.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    return;
  }
  try {
    parentPort!.postMessage({ id: message.id, converted });
  } catch {
    // The result cannot be cloned back (too deeply nested): the main thread converts this batch itself.
    parentPort!.postMessage({ id: message.id, uncloneable: true });
  }
});
