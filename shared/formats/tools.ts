import type { GeminiExample, GeminiFunctionDeclaration, GeminiPart } from '../convert/types.ts';
import { isRecord, type IssueCollector } from './mapping.ts';

/**
 * Function calling as OpenAI chat and ShareGPT (LLaMA-Factory, glaive) files write it, in
 * Gemini's terms ("Tune function calling"): declarations go to the example's `tools`, a call to a
 * `functionCall` part of the model turn, a tool's answer to a `functionResponse` part of the user
 * turn after it. Declarations keep their JSON Schema as `parametersJsonSchema` (Gemini's
 * `parameters` is an OpenAPI subset with its own type names; FunctionDeclaration in
 * google/cloud/aiplatform/v1/tool.proto takes either).
 */

/**
 * `tools` of an OpenAI record (`[{"type": "function", "function": {...}}]`), its legacy
 * `functions`, or LLaMA-Factory's `tools` (a JSON string of bare declarations).
 */
export function declarationsOf(tools: unknown, path: string, issues: IssueCollector): GeminiExample['tools'] {
  let list = tools;
  if (typeof tools === 'string') {
    if (tools.trim() === '' || tools.trim() === '[]') return undefined;
    try {
      list = JSON.parse(tools);
    } catch (error) {
      issues.error('invalid_tools', `"${path}" is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, path);
      return undefined;
    }
  }
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) {
    issues.error('invalid_tools', `"${path}" must be a list of function declarations`, path);
    return undefined;
  }
  const declarations: GeminiFunctionDeclaration[] = [];
  list.forEach((item, index) => {
    const at = `${path}[${index}]`;
    const declaration = isRecord(item) && item.type === 'function' && isRecord(item.function) ? item.function : item;
    if (isRecord(item) && item.type !== undefined && item.type !== 'function') {
      issues.error('invalid_tools', `a "${String(item.type)}" tool cannot be tuned: only function tools can`, `${at}.type`);
      return;
    }
    if (!isRecord(declaration) || typeof declaration.name !== 'string') {
      issues.error('invalid_function_declaration', 'a function needs a "name"', at);
      return;
    }
    declarations.push({
      name: declaration.name,
      ...(typeof declaration.description === 'string' && declaration.description !== '' ? { description: declaration.description } : {}),
      ...(isRecord(declaration.parameters) ? { parametersJsonSchema: declaration.parameters } : {}),
    });
  });
  return declarations.length > 0 ? [{ functionDeclarations: declarations }] : undefined;
}

/** A call's arguments: OpenAI writes them as a JSON string; a string that is not a JSON object is a located error. */
export function argsOf(value: unknown, path: string, issues: IssueCollector): Record<string, unknown> | null {
  if (value === undefined || value === null || value === '') return {};
  if (isRecord(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (isRecord(parsed)) return parsed;
      issues.error('invalid_function_call', `the arguments are JSON but not an object (${truncate(value)})`, path);
    } catch (error) {
      issues.error(
        'invalid_function_call',
        `the arguments are not valid JSON (${error instanceof Error ? error.message : String(error)}): ${truncate(value)}`,
        path,
      );
    }
    return null;
  }
  issues.error('invalid_function_call', 'the arguments must be a JSON object, or a string holding one', path);
  return null;
}

/** What a tool answered, as Gemini's `response` object: a JSON object as it is, anything else under "output" (Google's advice). */
export function responseOf(content: unknown): Record<string, unknown> {
  let value = content;
  if (Array.isArray(content)) value = content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('');
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (isRecord(parsed)) return parsed;
      return { output: parsed };
    } catch {
      return { output: value };
    }
  }
  return isRecord(value) ? value : { output: value ?? null };
}

/** A functionCall part, or null (the problem reported). */
export function callPart(name: unknown, args: unknown, path: string, issues: IssueCollector): GeminiPart | null {
  if (typeof name !== 'string' || name === '') {
    issues.error('invalid_function_call', 'the call names no function', path);
    return null;
  }
  const parsed = argsOf(args, `${path}.arguments`, issues);
  return parsed === null ? null : { functionCall: { name, args: parsed } };
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
