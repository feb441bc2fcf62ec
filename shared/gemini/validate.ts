import type { Issue, TokenCounter } from '../convert/types.ts';
import type { IssueCodeName } from './issue-codes.ts';
import { getModelSpec, limitsFor } from './models.ts';
import { checkFunctionCall, checkFunctionResponse, declaredFunctions } from './function-calling.ts';
import { isLocalMediaPath } from './media.ts';
import { MEDIA_KINDS, mediaKindOf, type MediaKind } from './schema.ts';

/**
 * Vertex AI's dataset rules for one Gemini tuning example, each rule in one place with its
 * source. Used by the converter (before anything is uploaded), by the launcher, and by the
 * Vertex AI simulator (which validates a dataset at job submission as Vertex does).
 *
 * Sources:
 *  [fmt]  https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare
 *         (dataset format: contents/role/parts, systemInstruction, a part is text | fileData)
 *  [lim]  https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-tuning (limits)
 *  [nb]   Google's tuning-dataset validation notebook (GoogleCloudPlatform/generative-ai,
 *         gemini/tuning: validate_dataset), whose error kinds we reuse as codes.
 *  [fc]   https://cloud.google.com/vertex-ai/generative-ai/docs/models/tune-function-calling
 *         (example-level `tools`, `functionCall` in model turns, `functionResponse` answering them)
 * Field names are JSON names here: field-names.ts renames proto names before validation.
 */

export interface ValidationContext {
  line: number;
  baseModel: string;
  tokens?: TokenCounter;
  /**
   * `upload`: the caller uploads local media files and rewrites their URIs (the CLI's --upload),
   * so a local path is a warning it then resolves; otherwise it is an error.
   */
  localMedia?: 'refuse' | 'upload';
}

export interface ValidationResult {
  errors: Issue[];
  warnings: Issue[];
  /** Tokens in every text part (system instruction included); 0 when no counter was given. */
  tokens: number;
  multimodal: boolean;
}

const VALID_ROLES = new Set(['user', 'model']);
const PART_DATA_KEYS: ReadonlySet<string> = new Set(['text', 'fileData', 'inlineData', 'functionCall', 'functionResponse']);
const EXAMPLE_KEYS = new Set(['contents', 'systemInstruction', 'tools']);

export function validateExample(example: unknown, context: ValidationContext): ValidationResult {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const issue = (list: Issue[], code: IssueCodeName, message: string, path: string) =>
    list.push({ line: context.line, code, message, path });
  let tokens = 0;
  let multimodal = false;
  const mediaCounts: Record<MediaKind, number> = { image: 0, document: 0, audio: 0, video: 0 };

  const countText = (text: string) => {
    if (context.tokens) tokens += context.tokens.count(text);
  };

  if (!isObject(example)) {
    issue(errors, 'not_an_object', 'an example must be a JSON object with a `contents` array', '');
    return { errors, warnings, tokens, multimodal };
  }

  // [fmt][fc] an example holds `contents`, and may hold `systemInstruction` and `tools`.
  for (const key of Object.keys(example)) {
    if (!EXAMPLE_KEYS.has(key)) {
      issue(errors, 'unknown_field', `unknown field "${key}": a Gemini tuning example has contents, systemInstruction and tools`, key);
    }
  }
  // [fc] declarations are input the model reads with every example: counted as their JSON text.
  const declared = declaredFunctions(example.tools, (code, message, path) => issue(errors, code, message, path));
  if (example.tools !== undefined) countText(JSON.stringify(example.tools));

  const system = example.systemInstruction;
  if (system !== undefined) {
    if (!isObject(system) || !Array.isArray(system.parts) || system.parts.length === 0) {
      issue(errors, 'invalid_system_instruction', 'systemInstruction must be {"parts":[{"text":"..."}]}', 'systemInstruction');
    } else {
      system.parts.forEach((part, index) => {
        const path = `systemInstruction.parts[${index}]`;
        if (!isObject(part) || typeof part.text !== 'string' || Object.keys(part).length !== 1) {
          issue(errors, 'invalid_system_instruction', 'systemInstruction parts may only hold text', path);
        } else if (part.text.trim() === '') {
          issue(errors, 'empty_text', 'the system instruction text is empty', `${path}.text`);
        } else {
          countText(part.text);
        }
      });
    }
  }

  const contents = example.contents;
  if (!Array.isArray(contents)) {
    issue(errors, 'missing_contents_list', 'the example has no "contents" array', 'contents');
    return { errors, warnings, tokens, multimodal };
  }
  if (contents.length === 0) {
    issue(errors, 'empty_contents', 'the "contents" array is empty', 'contents');
    return { errors, warnings, tokens, multimodal };
  }

  let previousRole: string | undefined;
  // [fc] the functions the last model turn called: what the user turn after it may answer.
  let calledByLastModelTurn = new Set<string>();
  contents.forEach((content, turn) => {
    const path = `contents[${turn}]`;
    if (!isObject(content) || !('role' in content) || !('parts' in content)) {
      issue(errors, 'content_item_missing_key', 'each turn needs both "role" and "parts"', path);
      previousRole = undefined;
      return;
    }
    const role = content.role;
    // [fmt][nb] roles in contents are `user` and `model` only; a system prompt goes in systemInstruction.
    if (typeof role !== 'string' || !VALID_ROLES.has(role)) {
      issue(errors, 'unrecognized_role', `role ${JSON.stringify(role)} is not "user" or "model"`, `${path}.role`);
    } else {
      // [nb] consecutive turns of one role are rejected; turns must alternate strictly.
      if (role === previousRole) {
        issue(
          errors,
          'consecutive_turns',
          `two "${role}" turns in a row (turns ${turn - 1} and ${turn}); turns must alternate`,
          `${path}.role`,
        );
      }
      previousRole = role;
    }
    for (const key of Object.keys(content)) {
      if (key !== 'role' && key !== 'parts') {
        issue(errors, 'unknown_field', `unknown field "${key}" in a turn`, `${path}.${key}`);
      }
    }
    const parts = content.parts;
    if (!Array.isArray(parts) || parts.length === 0) {
      issue(errors, 'empty_parts', 'a turn needs at least one part', `${path}.parts`);
      return;
    }
    const answerable = calledByLastModelTurn;
    if (role === 'model') calledByLastModelTurn = new Set();
    parts.forEach((part, index) => {
      const partPath = `${path}.parts[${index}]`;
      if (!isObject(part)) {
        issue(errors, 'invalid_part', 'a part must be an object holding text or fileData', partPath);
        return;
      }
      const keys = Object.keys(part);
      const key = keys[0];
      // [fmt] "Union field data can be only one of the following: text, fileData".
      if (keys.length !== 1 || !PART_DATA_KEYS.has(key!)) {
        const found = keys.join(', ') || 'nothing';
        issue(
          errors,
          'invalid_part',
          `a part must hold exactly one of text, fileData, functionCall or functionResponse (found: ${found})`,
          partPath,
        );
        return;
      }
      if (key === 'text') {
        if (typeof part.text !== 'string') {
          issue(errors, 'missing_text', 'text must be a string', `${partPath}.text`);
        } else if (part.text.trim() === '') {
          issue(errors, 'empty_text', 'the text is empty', `${partPath}.text`);
        } else {
          countText(part.text);
        }
      } else if (key === 'functionCall') {
        const report = (code: IssueCodeName, message: string, at: string) => issue(errors, code, message, at);
        const called = checkFunctionCall(part.functionCall, role, declared, `${partPath}.functionCall`, report);
        if (called !== null && role === 'model') calledByLastModelTurn.add(called);
        countText(JSON.stringify(part.functionCall));
      } else if (key === 'functionResponse') {
        const report = (code: IssueCodeName, message: string, at: string) => issue(errors, code, message, at);
        checkFunctionResponse(part.functionResponse, role, answerable, `${partPath}.functionResponse`, report);
        countText(JSON.stringify(part.functionResponse));
      } else if (key === 'inlineData') {
        // [fmt] the tuning dataset union lists text and fileData only; inline bytes are not accepted.
        multimodal = true;
        issue(
          errors,
          'inline_data_unsupported',
          'inlineData is not accepted in tuning datasets: upload the file to Cloud Storage and reference it with fileData {mimeType, fileUri: "gs://..."}',
          `${partPath}.inlineData`,
        );
      } else {
        multimodal = true;
        checkFileData(part.fileData, `${partPath}.fileData`);
      }
    });
  });

  function checkFileData(fileData: unknown, path: string) {
    if (!isObject(fileData)) {
      issue(errors, 'invalid_part', 'fileData must be {mimeType, fileUri}', path);
      return;
    }
    const { mimeType, fileUri } = fileData;
    if (typeof fileUri !== 'string' || fileUri === '') {
      issue(errors, 'invalid_file_uri', 'fileData.fileUri is missing', `${path}.fileUri`);
    } else if (/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/.+/.test(fileUri)) {
      // [fmt] media must live in Cloud Storage: gs://bucket/object.
    } else if (/^https:\/\/[^/\s]+\/\S*/.test(fileUri)) {
      issue(
        warnings,
        'https_file_uri',
        'the file is on https; copy it to Cloud Storage (gs://) so the job cannot fail when the host is slow or gone',
        `${path}.fileUri`,
      );
    } else if (isLocalMediaPath(fileUri)) {
      const shown = JSON.stringify(truncate(fileUri, 80));
      if (context.localMedia === 'upload')
        issue(
          warnings,
          'local_media_path',
          `${shown} is a local file: it is uploaded to Cloud Storage and the URI rewritten`,
          `${path}.fileUri`,
        );
      else
        issue(
          errors,
          'local_media_path',
          `${shown} is a local file, and Vertex reads media only from Cloud Storage: give its gs:// URI, or convert with \`sft-pipeline convert --upload gs://BUCKET/PREFIX\` (files are looked up under --media-root, default the input's folder), which uploads it and rewrites the URI`,
          `${path}.fileUri`,
        );
    } else {
      issue(errors, 'invalid_file_uri', `fileUri ${JSON.stringify(truncate(fileUri, 80))} is not gs://bucket/object`, `${path}.fileUri`);
    }
    if (typeof mimeType !== 'string' || mimeType === '') {
      issue(errors, 'missing_mime_type', 'fileData.mimeType is missing', `${path}.mimeType`);
      return;
    }
    const kind = mediaKindOf(mimeType);
    if (!kind) {
      issue(
        errors,
        'unsupported_mime_type',
        `MIME type "${mimeType}" is not accepted for tuning (images, application/pdf, audio, video)`,
        `${path}.mimeType`,
      );
      return;
    }
    mediaCounts[kind] += 1;
    // [lim] per-example media limits; reported once, on the first file over the limit.
    if (mediaCounts[kind] === MEDIA_KINDS[kind].maxPerExample + 1) {
      issue(errors, 'too_many_media', `more than ${MEDIA_KINDS[kind].maxPerExample} ${kind} file(s) in one example`, path);
    }
  }

  if (contents.length > 0) {
    const first = contents[0];
    const last = contents[contents.length - 1];
    // [fmt] an example starts with the user's turn and ends with the model's: the last model
    // turn is the target the model learns to produce.
    if (isObject(first) && first.role !== 'user' && VALID_ROLES.has(String(first.role))) {
      issue(errors, 'first_turn_not_user', 'the first turn must be a "user" turn', 'contents[0].role');
    }
    if (isObject(last) && last.role !== 'model' && VALID_ROLES.has(String(last.role))) {
      issue(
        errors,
        'last_turn_not_model',
        'the last turn must be a "model" turn (the answer to learn)',
        `contents[${contents.length - 1}].role`,
      );
    }
  }

  // An id the catalogue does not hold is checked against the strictest limits in it.
  const spec = limitsFor(context.baseModel);
  if (context.tokens && tokens > spec.maxTokensPerExample) {
    // [lim] maximum input and output tokens per example, together.
    const whose = getModelSpec(context.baseModel)
      ? `that ${spec.id} accepts per example`
      : `of the strictest model in the catalogue (${spec.id} is not in it)`;
    issue(errors, 'example_too_long', `${tokens} tokens, over the ${spec.maxTokensPerExample} ${whose}`, '');
  }

  return { errors, warnings, tokens, multimodal };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
