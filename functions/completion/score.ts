import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import { readPrediction, ScoreAccumulator, type ModelScores } from '../../shared/evaluation/scoring.ts';

/** The references by request key (a request may appear more than once, with its own reference each time). */
export async function loadReferences(objects: ObjectStore, referencesUri: string): Promise<Map<string, string[]>> {
  const references = new Map<string, string[]>();
  for await (const record of readJsonLines(objects.read(referencesUri))) {
    if ('code' in record) throw new Error(`${referencesUri} line ${record.line}: ${record.message}`);
    const { key, reference } = record.value as { key: string; reference: string };
    const list = references.get(key);
    if (list) list.push(reference);
    else references.set(key, [reference]);
  }
  return references;
}

/**
 * Scores one model's batch output against the references, streaming its prediction files
 * (every `.jsonl` under the output directory: Vertex may split them). A reference no prediction
 * answered counts as missing; a prediction for a request not in the input is ignored.
 */
export async function scoreOutput(
  objects: ObjectStore,
  outputDirectory: string,
  references: Map<string, string[]>,
): Promise<ModelScores & { unmatched: number }> {
  const remaining = new Map([...references].map(([key, list]) => [key, { list, next: 0 }]));
  const scores = new ScoreAccumulator();
  let unmatched = 0;
  for await (const uri of objects.list(`${outputDirectory.replace(/\/$/, '')}/`)) {
    if (!uri.endsWith('.jsonl')) continue;
    for await (const record of readJsonLines(objects.read(uri))) {
      if ('code' in record) continue;
      const { key, outcome } = readPrediction(record.value);
      const slot = key ? remaining.get(key) : undefined;
      if (!slot || slot.next >= slot.list.length) {
        unmatched += 1;
        continue;
      }
      scores.add(slot.list[slot.next]!, outcome);
      slot.next += 1;
    }
  }
  for (const slot of remaining.values()) for (let i = slot.next; i < slot.list.length; i++) scores.add(slot.list[i]!, null);
  return { ...scores.result(), unmatched };
}
