import type { Issue } from '../convert/types.ts';

/**
 * Vertex reads a tuning dataset with Google's JSON parser, which takes a field by its JSON name
 * (`systemInstruction`) or its proto name (`system_instruction`) alike (protobuf's proto3 JSON
 * mapping), and Google's own examples use both ("Tune function calling" writes
 * `system_instruction`). The converter accepts both and writes JSON names only.
 *
 * Only the dataset's own structure is renamed: what a user wrote inside `functionCall.args`,
 * `functionResponse.response` or a declaration's `parameters` is their data, kept as written.
 */
type Shape = { readonly [jsonName: string]: Shape | 'data' | { readonly each: Shape } };

const CONTENT_PART: Shape = {
  text: 'data',
  thought: 'data',
  fileData: { mimeType: 'data', fileUri: 'data', displayName: 'data' },
  inlineData: { mimeType: 'data', data: 'data', displayName: 'data' },
  functionCall: { id: 'data', name: 'data', args: 'data' },
  functionResponse: { id: 'data', name: 'data', response: 'data' },
};
const CONTENT: Shape = { role: 'data', parts: { each: CONTENT_PART } };
const FUNCTION_DECLARATION: Shape = {
  name: 'data',
  description: 'data',
  parameters: 'data',
  parametersJsonSchema: 'data',
  response: 'data',
  responseJsonSchema: 'data',
};
const EXAMPLE: Shape = {
  systemInstruction: CONTENT,
  contents: { each: CONTENT },
  tools: { each: { functionDeclarations: { each: FUNCTION_DECLARATION } } },
};

const camelOf = (name: string) => name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());

/**
 * The example with every structural field under its JSON name. A field given under both names is
 * an error (`duplicate_field`), as Google's parser refuses it; the JSON name's value is kept.
 */
export function withJsonFieldNames(example: unknown, line: number, errors: Issue[]): unknown {
  return rename(example, EXAMPLE, '', line, errors);
}

function rename(value: unknown, shape: Shape, path: string, line: number, errors: Issue[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const sources = new Map<string, string[]>();
  for (const key of Object.keys(value)) {
    const name = Object.hasOwn(shape, key) ? key : Object.hasOwn(shape, camelOf(key)) ? camelOf(key) : key;
    sources.set(name, [...(sources.get(name) ?? []), key]);
  }
  const out: Record<string, unknown> = {};
  for (const [name, keys] of sources) {
    const at = path ? `${path}.${name}` : name;
    if (keys.length > 1)
      errors.push({ line, code: 'duplicate_field', message: `"${name}" is given twice (${keys.join(' and ')}); give it once`, path: at });
    // With both spellings, the JSON name's value is the one kept.
    const inner = (value as Record<string, unknown>)[keys.includes(name) ? name : keys[0]!];
    const child = Object.hasOwn(shape, name) ? shape[name] : undefined;
    const renamed =
      child === undefined || child === 'data'
        ? inner
        : 'each' in child
          ? renameEach(inner, child.each as Shape, at, line, errors)
          : rename(inner, child as Shape, at, line, errors);
    // Defined, not assigned: a key such as "__proto__" stays a key (and is reported as unknown), never a prototype.
    Object.defineProperty(out, name, { value: renamed, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function renameEach(value: unknown, shape: Shape, path: string, line: number, errors: Issue[]): unknown {
  return Array.isArray(value) ? value.map((item, index) => rename(item, shape, `${path}[${index}]`, line, errors)) : value;
}
