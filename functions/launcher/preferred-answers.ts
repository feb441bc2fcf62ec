import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import { MergeInputError } from '../../shared/datasets/merge.ts';
import { preferredAnswerExample } from '../../shared/gemini/preference.ts';

/**
 * Writes the supervised file of a staged run's first stage: each preference example's prompt with
 * its preferred answer, streaming, line for line. Create-once: a retried delivery finds the file
 * an earlier one wrote (the same bytes). A line that is not a preference example refuses the run,
 * naming the file, line and field.
 */
export async function writePreferredAnswers(objects: ObjectStore, sourceUri: string, targetUri: string): Promise<{ examples: number }> {
  const writer = objects.openWriter(targetUri, { contentType: 'application/jsonl', ifAbsent: true });
  let examples = 0;
  try {
    for await (const record of readJsonLines(objects.read(sourceUri))) {
      if ('code' in record) throw new MergeInputError(sourceUri, record.line, record.message);
      const derived = preferredAnswerExample(record.value);
      if ('problem' in derived) throw new MergeInputError(sourceUri, record.line, `${derived.path}: ${derived.problem}`);
      await writer.write(`${JSON.stringify(derived.example)}\n`);
      examples += 1;
    }
    if (examples === 0) throw new MergeInputError(sourceUri, 1, 'the file holds no example');
    await writer.close();
  } catch (error) {
    writer.abort();
    throw error;
  }
  return { examples };
}
