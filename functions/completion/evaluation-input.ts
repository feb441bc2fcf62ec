import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import { toInferenceCase } from '../../shared/evaluation/inference-input.ts';

/**
 * Streams the held-out file into the batch input (`requests.jsonl`, one `{"request": …}` per
 * line) and the references kept aside (`references.jsonl`, `{"key", "reference"}`), taking the
 * first `maxExamples` usable examples. The same input gives the same bytes, so a retried
 * delivery rewrites identical files.
 */
export async function buildInferenceInput(
  objects: ObjectStore,
  datasetUri: string,
  target: { inputUri: string; referencesUri: string },
  maxExamples: number,
  generationConfig?: Record<string, unknown>,
): Promise<{ examples: number; skipped: number; firstSkip: string | null }> {
  // Create-once (the same bytes every time): a retried delivery keeps what an earlier one wrote, and the function needs no delete permission.
  const requests = objects.openWriter(target.inputUri, { contentType: 'application/jsonl', ifAbsent: true });
  const references = objects.openWriter(target.referencesUri, { contentType: 'application/jsonl', ifAbsent: true });
  let examples = 0;
  let skipped = 0;
  let firstSkip: string | null = null;
  try {
    for await (const record of readJsonLines(objects.read(datasetUri))) {
      if (examples >= maxExamples) break;
      const input = 'code' in record ? { skip: record.message } : toInferenceCase(record.value, generationConfig);
      if ('skip' in input) {
        skipped += 1;
        firstSkip ??= `${datasetUri} line ${record.line}: ${input.skip}`;
        continue;
      }
      examples += 1;
      await requests.write(`${JSON.stringify({ request: input.request })}\n`);
      await references.write(`${JSON.stringify({ key: input.key, reference: input.reference })}\n`);
    }
    await requests.close();
    await references.close();
  } catch (error) {
    requests.abort();
    references.abort();
    throw error;
  }
  return { examples, skipped, firstSkip };
}
