import type { GeminiContent, GeminiExample, GeminiPart, Issue } from '../convert/types.ts';
import type { IssueCodeName } from '../gemini/issue-codes.ts';
import { mimeTypeFromUri } from '../gemini/schema.ts';

/**
 * What mapping one raw record to a Gemini example gives: the example when one could be built
 * (validation happens afterwards, on the built example), and the located problems of the
 * mapping itself (missing fields, unknown image URLs, ...).
 */
export interface MappingResult {
  example: GeminiExample | null;
  errors: Issue[];
  warnings: Issue[];
  /** Where in the input each turn and part came from, so later issues can name the input's own fields. */
  sources?: ExampleSources;
}

/**
 * The input's own paths of a built example: each turn's (and where its role was written), and each
 * part's, in the order of `contents` and `systemInstruction.parts`.
 */
export interface ExampleSources {
  contents: { path: string; role?: string; parts: string[] }[];
  system: string[];
}

/** A turn as a mapper builds it: its role and parts, and the input paths they came from. */
export interface SourceTurn {
  role: string;
  parts: GeminiPart[];
  /** The turn in the input (`conversations[2]`). */
  path: string;
  /** The field holding the role, relative to `path` (`from`, `role`). */
  roleField?: string;
  /** Each part's input path (default: the turn's path). */
  partPaths?: string[];
}

/** Collects issues for one record, located at its line. */
export class IssueCollector {
  readonly errors: Issue[] = [];
  readonly warnings: Issue[] = [];
  sources?: ExampleSources;
  private readonly line: number;

  constructor(line: number) {
    this.line = line;
  }

  error(code: IssueCodeName, message: string, path: string): void {
    this.errors.push({ line: this.line, code, message, path });
  }

  warn(code: IssueCodeName, message: string, path: string): void {
    this.warnings.push({ line: this.line, code, message, path });
  }

  result(example: GeminiExample | null): MappingResult {
    return { example, errors: this.errors, warnings: this.warnings, ...(example && this.sources ? { sources: this.sources } : {}) };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A media reference (gs://, https:// or data: URL) as a Gemini part. gs:// and https:// become
 * fileData (validation warns about https); a data: URL becomes inlineData, which validation
 * then reports as not accepted by tuning, so the user learns to upload it.
 */
export function mediaPart(url: string, issues: IssueCollector, path: string, mimeTypeHint?: string): GeminiPart | null {
  const trimmed = url.trim();
  const dataUrl = /^data:([^;,]+)(;base64)?,(.*)$/s.exec(trimmed);
  if (dataUrl) {
    const [, mimeType = '', base64, payload = ''] = dataUrl;
    const data = base64 ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64');
    return { inlineData: { mimeType, data } };
  }
  if (/^(gs|https?):\/\//i.test(trimmed)) {
    const mimeType = mimeTypeHint ?? mimeTypeFromUri(trimmed);
    if (!mimeType) {
      issues.error('missing_mime_type', `cannot tell the MIME type of ${JSON.stringify(trimmed)} from its extension`, path);
      return null;
    }
    return { fileData: { mimeType, fileUri: trimmed } };
  }
  issues.error('invalid_image_url', `${JSON.stringify(trimmed.slice(0, 80))} is not a gs://, https:// or data: URL`, path);
  return null;
}

/**
 * Builds contents from role-tagged messages, moving system messages into systemInstruction.
 * Roles are passed through as mapped; validation reports unknown roles and broken alternation
 * on the built example, so the raw data's own mistakes are named in Vertex's terms.
 */
export function assembleExample(turns: SourceTurn[], issues: IssueCollector): GeminiExample {
  const systemParts: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  const sources: ExampleSources = { contents: [], system: [] };
  for (const turn of turns) {
    const partPaths = turn.partPaths ?? turn.parts.map(() => turn.path);
    if (turn.role === 'system') {
      if (contents.length > 0) {
        issues.warn('system_role_in_contents', 'a system message inside the conversation was moved to systemInstruction', turn.path);
      }
      systemParts.push(...turn.parts);
      sources.system.push(...partPaths);
    } else {
      contents.push({ role: turn.role, parts: turn.parts });
      sources.contents.push({ path: turn.path, ...(turn.roleField ? { role: `${turn.path}.${turn.roleField}` } : {}), parts: partPaths });
    }
  }
  issues.sources = sources;
  const example: GeminiExample = { contents };
  return systemParts.length > 0 ? { systemInstruction: { parts: systemParts }, ...example } : example;
}
