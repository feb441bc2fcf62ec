import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import {
  HASH_BUCKETS,
  MergeInputError,
  canonicalJson,
  exampleHash,
  hashBucket,
  planMergePasses,
  type MergeSummary,
} from '../../shared/datasets/merge.ts';

/**
 * Writes the run's merged training file from several JSONL sources, streaming: a first pass
 * counts, de-duplicates (by hash) and sizes the hash buckets; then each planned pass re-reads the
 * sources and writes only its range of buckets, sorted, so memory holds at most `budgetBytes`
 * of examples plus one short hash per distinct example, whatever the sources weigh.
 */
export async function mergeTrainingDatasets(
  objects: ObjectStore,
  sources: readonly string[],
  targetUri: string,
  budgetBytes: number,
): Promise<MergeSummary> {
  const seen = new Set<string>();
  const bytesPerBucket = new Array<number>(HASH_BUCKETS).fill(0);
  const summaries: MergeSummary['sources'] = [];
  for (const uri of sources) {
    let examples = 0;
    let duplicates = 0;
    for await (const { hash, text } of examplesOf(objects, uri)) {
      examples += 1;
      // 64 bits of the hash: a collision among a billion examples has odds of about 1 in 40.
      const key = hash.slice(0, 16);
      if (seen.has(key)) {
        duplicates += 1;
        continue;
      }
      seen.add(key);
      bytesPerBucket[hashBucket(hash)]! += text.length + 1;
    }
    summaries.push({ uri, examples, duplicates });
  }
  const passes = planMergePasses(bytesPerBucket, budgetBytes);
  // Create-once: a retried merge finds the complete file an earlier delivery wrote (objects appear whole), the same bytes.
  const writer = objects.openWriter(targetUri, { contentType: 'application/jsonl', ifAbsent: true });
  try {
    for (const pass of passes) {
      const lines = new Map<string, string>();
      for (const uri of sources) {
        for await (const { hash, text } of examplesOf(objects, uri)) {
          const bucket = hashBucket(hash);
          if (bucket >= pass.from && bucket <= pass.to && !lines.has(hash)) lines.set(hash, text);
        }
      }
      for (const hash of [...lines.keys()].sort()) await writer.write(`${lines.get(hash)!}\n`);
    }
    await writer.close();
  } catch (error) {
    writer.abort();
    throw error;
  }
  return {
    uri: targetUri,
    sources: summaries,
    examples: seen.size,
    duplicatesDropped: summaries.reduce((sum, source) => sum + source.duplicates, 0),
    passes: passes.length,
  };
}

async function* examplesOf(objects: ObjectStore, uri: string): AsyncGenerator<{ hash: string; text: string }> {
  for await (const record of readJsonLines(objects.read(uri))) {
    if ('code' in record) throw new MergeInputError(uri, record.line, record.message);
    const value = record.value as { contents?: unknown } | null;
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Array.isArray(value.contents)) {
      throw new MergeInputError(
        uri,
        record.line,
        'not a Gemini tuning example (an object with a "contents" array); convert the file first',
      );
    }
    // The canonical form is what gets written, so the merged bytes do not depend on which source an example came from first.
    const text = canonicalJson(value);
    yield { hash: exampleHash(text), text };
  }
}
