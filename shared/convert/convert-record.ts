import { mapAlpacaRecord } from '../formats/alpaca.ts';
import { mapCsvRecord } from '../formats/csv.ts';
import { mapGeminiRecord } from '../formats/gemini.ts';
import type { MappingResult } from '../formats/mapping.ts';
import { mapOpenAiRecord } from '../formats/openai.ts';
import { mapShareGptRecord } from '../formats/sharegpt.ts';
import { mapPreferenceRecord } from '../formats/preference.ts';
import { preferenceExample, validatePreferenceExample } from '../gemini/preference.ts';
import { validateExample } from '../gemini/validate.ts';
import { locateInInput, type PartOrigins } from './locate-in-input.ts';
import { splitTextByTokens, tooShortToSplit } from './split-parts.ts';
import type { ConvertOptions, GeminiContent, GeminiExample, GeminiPart, Issue, RawRecord, RecordResult, TokenCounter } from './types.ts';

/**
 * One raw record to one Gemini tuning example: map the format, split over-long text parts,
 * then apply Vertex's rules. What could be converted is converted; anything wrong is an issue
 * located at the record's line and the field's path. Never throws on any input.
 */
export function convertRecord(record: RawRecord, options: ConvertOptions, tokens: TokenCounter): RecordResult {
  if (options.preferenceData) return convertPreferenceRecord(record, options, tokens);
  return convertExample(record, mapRecord(record, options), options, tokens);
}

function convertExample(
  record: RawRecord,
  mapped: MappingResult & { skipped?: boolean },
  options: ConvertOptions,
  tokens: TokenCounter,
): RecordResult {
  if ('skipped' in mapped && mapped.skipped) {
    return { line: record.line, example: null, errors: [], warnings: mapped.warnings, tokens: 0, multimodal: false, skipped: true };
  }
  if (!mapped.example || mapped.errors.length > 0) {
    return { line: record.line, example: null, errors: mapped.errors, warnings: mapped.warnings, tokens: 0, multimodal: false };
  }
  const counter = memoised(tokens, options.maxPartTokens);
  const splitNotes: Issue[] = [];
  const origins: PartOrigins = {
    contents: (Array.isArray(mapped.example.contents) ? mapped.example.contents : []).map(() => []),
    system: [],
  };
  const example = splitLongTexts(mapped.example, options.maxPartTokens, counter, record.line, splitNotes, 'contents', origins);
  const validation = validateExample(example, {
    line: record.line,
    baseModel: options.baseModel,
    tokens: counter,
    localMedia: options.localMedia ?? 'refuse',
  });
  // Issues found on the built example name the input's own fields, the converted path beside them.
  const sources = mapped.sources;
  const located = (issues: Issue[], withOrigins: boolean) =>
    sources ? issues.map((issue) => locateInInput(issue, sources, withOrigins ? origins : undefined)) : issues;
  const errors = [...mapped.errors, ...located(validation.errors, true)];
  return {
    line: record.line,
    example: errors.length === 0 ? example : null,
    errors,
    warnings: [...mapped.warnings, ...located(splitNotes, false), ...located(validation.warnings, true)],
    ...(sources && errors.length === 0 ? { located: { sources, origins } } : {}),
    tokens: validation.tokens,
    multimodal: validation.multimodal,
  };
}

/**
 * A record of a preference file. For preference tuning a pair becomes Vertex's preference
 * example and a KTO answer is handed back for the pipeline to pair; for supervised tuning a pair
 * is its chosen answer and a KTO answer is one only when it was judged desirable.
 */
function convertPreferenceRecord(record: RawRecord, options: ConvertOptions, tokens: TokenCounter): RecordResult {
  const rejected = (errors: Issue[], warnings: Issue[]): RecordResult => ({
    line: record.line,
    example: null,
    errors,
    warnings,
    tokens: 0,
    multimodal: false,
  });
  let mapped: ReturnType<typeof mapPreferenceRecord>;
  try {
    mapped = mapPreferenceRecord(record, options.format);
  } catch (error) {
    return rejected(
      [
        {
          line: record.line,
          code: 'invalid_field_type',
          message: `could not map the record: ${error instanceof Error ? error.message : String(error)}`,
          path: '',
        },
      ],
      [],
    );
  }
  const { preference, errors, warnings } = mapped;
  if (!preference) return rejected(errors, warnings);
  const supervised = (options.method ?? 'supervised') === 'supervised';
  if (preference.answer) {
    if (!supervised)
      return {
        ...rejected([], warnings),
        judged: { prompt: preference.prompt, answer: preference.answer, desirable: preference.desirable! },
      };
    if (!preference.desirable) {
      const note = {
        line: record.line,
        code: 'kto_undesirable_left_out',
        message:
          'an answer labelled false is never a supervised target: left out (convert with --method preference to pair it with a desirable answer to the same prompt)',
        path: '',
      };
      return { ...rejected([], [...warnings, note]), skipped: true };
    }
    return convertExample(record, { example: withAnswer(preference.prompt, preference.answer), errors: [], warnings }, options, tokens);
  }
  if (supervised)
    return convertExample(record, { example: withAnswer(preference.prompt, preference.chosen!), errors: [], warnings }, options, tokens);
  return checkPreferenceExample(
    record.line,
    preferenceExample(preference.prompt, preference.chosen!, preference.rejected!),
    warnings,
    options,
    tokens,
  );
}

/** A preference example, with over-long texts split as in supervised examples, judged by Vertex's preference rules. */
export function checkPreferenceExample(
  line: number,
  built: GeminiExample,
  warnings: Issue[],
  options: ConvertOptions,
  tokens: TokenCounter,
): RecordResult {
  const counter = memoised(tokens, options.maxPartTokens);
  const notes = [...warnings];
  const split = splitLongTexts(built, options.maxPartTokens, counter, line, notes);
  const completions = built.completions!.map((item, index) => ({
    ...item,
    completion: {
      ...item.completion,
      parts: splitLongTexts(
        { contents: [item.completion] },
        options.maxPartTokens,
        counter,
        line,
        notes,
        `completions[${index}].completion`,
      ).contents[0]!.parts,
    },
  }));
  const example = { ...split, completions };
  const validation = validatePreferenceExample(example, { line, baseModel: options.baseModel, tokens: counter });
  return {
    line,
    example: validation.errors.length === 0 ? example : null,
    errors: validation.errors,
    warnings: [...notes, ...validation.warnings],
    tokens: validation.tokens,
    multimodal: validation.multimodal,
  };
}

function withAnswer(prompt: GeminiExample, answer: GeminiPart[]): GeminiExample {
  return { ...prompt, contents: [...prompt.contents, { role: 'model', parts: answer }] };
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
    return {
      example: null,
      errors: [{ line: record.line, code: 'invalid_field_type', message: `could not map the record: ${message}`, path: '' }],
      warnings: [],
    };
  }
}

/**
 * The example with every text part over the limit split into consecutive parts: a copy where
 * anything is split (`origins` then gets, for each part of a split turn, the index of the part it
 * came from), the example itself where nothing is, as for nearly every record.
 */
function splitLongTexts(
  example: GeminiExample,
  maxTokens: number,
  tokens: TokenCounter,
  line: number,
  warnings: Issue[],
  contentsPath = 'contents',
  origins?: PartOrigins,
): GeminiExample {
  if (!Array.isArray(example.contents)) return example;
  // The same array back when no part is split; `from` stays empty then, which reads as "each
  // part is its own" (locate-in-input.ts).
  const splitParts = (parts: unknown, path: string, from: number[] = []): unknown => {
    if (!Array.isArray(parts)) return parts;
    let out: unknown[] | undefined;
    parts.forEach((part: GeminiPart, index) => {
      const pieces =
        part && typeof part === 'object' && typeof part.text === 'string' ? splitTextByTokens(part.text, maxTokens, tokens) : [];
      if (pieces.length > 1 && Object.keys(part).length === 1) {
        warnings.push({
          line,
          code: 'text_part_split',
          message: `a text of ${tokens.count(part.text!)} tokens was split into ${pieces.length} parts of at most ${maxTokens} tokens`,
          path: `${path}[${index}].text`,
        });
        if (!out) {
          out = parts.slice(0, index);
          for (let earlier = 0; earlier < index; earlier++) from.push(earlier);
        }
        for (const text of pieces) {
          out.push({ text });
          from.push(index);
        }
      } else if (out) {
        out.push(part);
        from.push(index);
      }
    });
    return out ?? parts;
  };
  let contents: unknown[] | undefined;
  example.contents.forEach((content, turn) => {
    let copy: unknown = content;
    if (content && typeof content === 'object' && 'parts' in content) {
      const path = contentsPath === 'contents' ? `contents[${turn}].parts` : `${contentsPath}.parts`;
      const parts = splitParts(content.parts, path, origins?.contents[turn]);
      if (parts !== content.parts) copy = { ...content, parts };
    }
    if (copy !== content) contents ??= example.contents.slice(0, turn);
    contents?.push(copy);
  });
  const system = example.systemInstruction;
  if (system && typeof system === 'object' && Array.isArray(system.parts)) {
    const parts = splitParts(system.parts, 'systemInstruction.parts', origins?.system);
    if (parts !== system.parts) {
      return {
        ...example,
        systemInstruction: { ...system, parts: parts as GeminiPart[] },
        contents: (contents ?? example.contents) as GeminiContent[],
      };
    }
  }
  return contents ? { ...example, contents: contents as GeminiContent[] } : example;
}

/**
 * Splitting and validation count the same texts; count each once per record. A text too short
 * for splitting to count (split-parts.ts) is counted by validation alone, so is not kept. The
 * token ends pass through: without them, splitting falls back to its greedy search.
 */
function memoised(tokens: TokenCounter, maxPartTokens: number): TokenCounter {
  let cache: Map<string, number> | undefined;
  const count = (text: string): number => {
    if (tooShortToSplit(text, maxPartTokens)) return tokens.count(text);
    cache ??= new Map();
    let n = cache.get(text);
    if (n === undefined) {
      n = tokens.count(text);
      if (cache.size < 256) cache.set(text, n);
    }
    return n;
  };
  const tokenEnds = tokens.tokenEnds?.bind(tokens);
  return tokenEnds ? { count, tokenEnds } : { count };
}
