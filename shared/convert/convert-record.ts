import { mapAlpacaRecord } from '../formats/alpaca.ts';
import { mapCsvRecord } from '../formats/csv.ts';
import { mapGeminiRecord } from '../formats/gemini.ts';
import type { MappingResult } from '../formats/mapping.ts';
import { mapOpenAiRecord } from '../formats/openai.ts';
import { mapShareGptRecord } from '../formats/sharegpt.ts';
import { validateExample } from '../gemini/validate.ts';
import { splitTextByTokens } from './split-parts.ts';
import type { ConvertOptions, GeminiExample, GeminiPart, Issue, RawRecord, RecordResult, TokenCounter } from './types.ts';

/**
 * One raw record to one Gemini tuning example: map the format, split over-long text parts,
 * then apply Vertex's rules. What could be converted is converted; anything wrong is an issue
 * located at the record's line and the field's path. Never throws on any input.
 */
export function convertRecord(record: RawRecord, options: ConvertOptions, tokens: TokenCounter): RecordResult {
  const mapped = mapRecord(record, options);
  if ('skipped' in mapped && mapped.skipped) {
    return { line: record.line, example: null, errors: [], warnings: mapped.warnings, tokens: 0, multimodal: false, skipped: true };
  }
  if (!mapped.example || mapped.errors.length > 0) {
    return { line: record.line, example: null, errors: mapped.errors, warnings: mapped.warnings, tokens: 0, multimodal: false };
  }
  const counter = memoised(tokens);
  const warnings = [...mapped.warnings];
  const example = splitLongTexts(mapped.example, options.maxPartTokens, counter, record.line, warnings);
  const validation = validateExample(example, { line: record.line, baseModel: options.baseModel, tokens: counter, localMedia: options.localMedia ?? 'refuse' });
  const errors = [...mapped.errors, ...validation.errors];
  return {
    line: record.line,
    example: errors.length === 0 ? example : null,
    errors,
    warnings: [...warnings, ...validation.warnings],
    tokens: validation.tokens,
    multimodal: validation.multimodal,
  };
}

function mapRecord(record: RawRecord, options: ConvertOptions): MappingResult & { skipped?: boolean } {
  try {
    switch (options.format) {
      case 'gemini':
        return mapGeminiRecord(record);
      case 'openai':
        return mapOpenAiRecord(record);
      case 'sharegpt':
        return mapShareGptRecord(record);
      case 'alpaca':
        return mapAlpacaRecord(record);
      case 'csv':
      case 'tsv':
        return mapCsvRecord(record, options.columnMap ?? {});
    }
  } catch (error) {
    // A mapper bug must not take the whole file down: the record is reported, the rest goes on.
    const message = error instanceof Error ? error.message : String(error);
    return { example: null, errors: [{ line: record.line, code: 'invalid_field_type', message: `could not map the record: ${message}`, path: '' }], warnings: [] };
  }
}

/** Copies the example with every text part over the limit split into consecutive parts. */
function splitLongTexts(example: GeminiExample, maxTokens: number, tokens: TokenCounter, line: number, warnings: Issue[]): GeminiExample {
  if (!Array.isArray(example.contents)) return example;
  const splitParts = (parts: unknown, path: string): unknown => {
    if (!Array.isArray(parts)) return parts;
    const out: unknown[] = [];
    parts.forEach((part: GeminiPart, index) => {
      if (part && typeof part === 'object' && typeof part.text === 'string' && Object.keys(part).length === 1) {
        const pieces = splitTextByTokens(part.text, maxTokens, tokens);
        if (pieces.length > 1) {
          warnings.push({
            line,
            code: 'text_part_split',
            message: `a text of ${tokens.count(part.text)} tokens was split into ${pieces.length} parts of at most ${maxTokens} tokens`,
            path: `${path}[${index}].text`,
          });
        }
        for (const text of pieces) out.push({ text });
      } else {
        out.push(part);
      }
    });
    return out;
  };
  const contents = example.contents.map((content, turn) =>
    content && typeof content === 'object' && 'parts' in content
      ? { ...content, parts: splitParts(content.parts, `contents[${turn}].parts`) as GeminiPart[] }
      : content,
  );
  const system = example.systemInstruction;
  if (system && typeof system === 'object' && Array.isArray(system.parts)) {
    return { ...example, systemInstruction: { ...system, parts: splitParts(system.parts, 'systemInstruction.parts') as GeminiPart[] }, contents };
  }
  return { ...example, contents };
}

/** Splitting and validation count the same texts; count each once per record. */
function memoised(tokens: TokenCounter): TokenCounter {
  const cache = new Map<string, number>();
  return {
    count(text) {
      let n = cache.get(text);
      if (n === undefined) {
        n = tokens.count(text);
        if (cache.size < 256) cache.set(text, n);
      }
      return n;
    },
  };
}
