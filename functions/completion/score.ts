import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import { MAX_EXAMPLE_TEXT } from '../../shared/evaluation/examples.ts';
import { readPrediction, ScoreAccumulator, type ExampleScore, type ModelScores } from '../../shared/evaluation/scoring.ts';

/** A held-out example's reference and its place in the references file (the same as in the requests file). */
export interface Reference {
  reference: string;
  index: number;
}

/** The references by request key (a request may appear more than once, with its own reference each time). */
export async function loadReferences(objects: ObjectStore, referencesUri: string): Promise<Map<string, Reference[]>> {
  const references = new Map<string, Reference[]>();
  let index = 0;
  for await (const record of readJsonLines(objects.read(referencesUri))) {
    if ('code' in record) throw new Error(`${referencesUri} line ${record.line}: ${record.message}`);
    const { key, reference } = record.value as { key: string; reference: string };
    const entry = { reference, index: index++ };
    const list = references.get(key);
    if (list) list.push(entry);
    else references.set(key, [entry]);
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
  references: Map<string, Reference[]>,
): Promise<ModelScores & { unmatched: number; examples: ExampleScore[] }> {
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
      const entry = slot.list[slot.next]!;
      scores.add(entry.reference, outcome, entry.index);
      slot.next += 1;
    }
  }
  for (const slot of remaining.values())
    for (let i = slot.next; i < slot.list.length; i++) scores.add(slot.list[i]!.reference, null, slot.list[i]!.index);
  return { ...scores.result(), unmatched, examples: scores.examples };
}

/** Each request's prompt as text (its last user turn), in file order: the per-example table's prompt column. */
export async function loadPrompts(objects: ObjectStore, inputUri: string): Promise<string[]> {
  const prompts: string[] = [];
  for await (const record of readJsonLines(objects.read(inputUri))) {
    if ('code' in record) throw new Error(`${inputUri} line ${record.line}: ${record.message}`);
    const contents = ((record.value as { request?: { contents?: { role?: string; parts?: { text?: unknown }[] }[] } }).request?.contents ??
      []) as { role?: string; parts?: { text?: unknown }[] }[];
    const user = [...contents].reverse().find((turn) => turn.role === 'user');
    const text = (user?.parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
    prompts.push(text.length > MAX_EXAMPLE_TEXT ? text.slice(0, MAX_EXAMPLE_TEXT) : text);
  }
  return prompts;
}
