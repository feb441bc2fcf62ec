import { z } from 'zod';

/**
 * One line of a Gemini supervised tuning dataset, as Vertex AI documents it:
 * https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare
 * ("Dataset example for Gemini": `systemInstruction` + `contents[]`, each part a union of
 * `text` and `fileData`; with function calling, `tools`, `functionCall` and `functionResponse`).
 * This is the shape the converter writes; validate.ts checks arbitrary
 * input against the rules with located errors, which a zod parse alone cannot word well.
 */
export const fileDataSchema = z.strictObject({
  mimeType: z.string().min(1),
  fileUri: z.string().min(1),
});

export const inlineDataSchema = z.strictObject({
  mimeType: z.string().min(1),
  data: z.string().min(1),
});

const jsonObjectSchema = z.record(z.string(), z.unknown());

/** Function calling parts and declarations ("Tune function calling"; field rules in function-calling.ts). */
export const functionCallSchema = z.strictObject({ id: z.string().optional(), name: z.string().min(1), args: jsonObjectSchema.optional() });
export const functionResponseSchema = z.strictObject({ id: z.string().optional(), name: z.string().min(1), response: jsonObjectSchema });
export const functionDeclarationSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/),
  description: z.string().optional(),
  parameters: jsonObjectSchema.optional(),
  parametersJsonSchema: jsonObjectSchema.optional(),
  response: jsonObjectSchema.optional(),
  responseJsonSchema: jsonObjectSchema.optional(),
});
export const toolSchema = z.strictObject({ functionDeclarations: z.array(functionDeclarationSchema) });

export const partSchema = z.union([
  z.strictObject({ text: z.string().min(1) }),
  z.strictObject({ fileData: fileDataSchema }),
  z.strictObject({ functionCall: functionCallSchema }),
  z.strictObject({ functionResponse: functionResponseSchema }),
]);

export const contentSchema = z.strictObject({
  role: z.enum(['user', 'model']),
  parts: z.array(partSchema).min(1),
});

export const systemInstructionSchema = z.strictObject({
  role: z.string().optional(),
  parts: z.array(z.strictObject({ text: z.string().min(1) })).min(1),
});

export const geminiExampleSchema = z.strictObject({
  systemInstruction: systemInstructionSchema.optional(),
  contents: z.array(contentSchema).min(2),
  tools: z.array(toolSchema).optional(),
});

export type GeminiTuningExample = z.infer<typeof geminiExampleSchema>;

/** MIME types Gemini tuning accepts, by media kind; the per-example limits are per kind. */
export const MEDIA_KINDS = {
  image: {
    mimeTypes: ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'],
    maxPerExample: 30,
    maxBytes: 20 * 1024 * 1024,
  },
  document: {
    mimeTypes: ['application/pdf'],
    maxPerExample: 4,
    maxBytes: 20 * 1024 * 1024,
  },
  audio: {
    mimeTypes: [
      'audio/wav',
      'audio/x-wav',
      'audio/mp3',
      'audio/mpeg',
      'audio/aac',
      'audio/x-aac',
      'audio/flac',
      'audio/ogg',
      'audio/opus',
      'audio/m4a',
      'audio/mp4',
      'audio/webm',
      'audio/pcm',
      'audio/aiff',
    ],
    maxPerExample: 1,
    maxBytes: 100 * 1024 * 1024,
  },
  video: {
    mimeTypes: [
      'video/mp4',
      'video/mpeg',
      'video/mpg',
      'video/quicktime',
      'video/webm',
      'video/x-flv',
      'video/wmv',
      'video/3gpp',
      'video/avi',
      'video/x-msvideo',
    ],
    maxPerExample: 1,
    maxBytes: 100 * 1024 * 1024,
  },
} as const;
// Source: per-example media limits documented for Gemini 2.x tuning (gemini-tuning page above):
// at most 30 images of 20 MB, 4 PDFs of 20 MB, 1 audio file of 100 MB, 1 video of 100 MB.

export type MediaKind = keyof typeof MEDIA_KINDS;

export function mediaKindOf(mimeType: string): MediaKind | undefined {
  const normalized = mimeType.trim().toLowerCase();
  for (const [kind, spec] of Object.entries(MEDIA_KINDS) as [MediaKind, (typeof MEDIA_KINDS)[MediaKind]][]) {
    if ((spec.mimeTypes as readonly string[]).includes(normalized)) return kind;
  }
  return undefined;
}

const extensionMimeTypes: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  opus: 'audio/opus',
  m4a: 'audio/m4a',
  aiff: 'audio/aiff',
  mp4: 'video/mp4',
  mpeg: 'video/mpeg',
  mpg: 'video/mpg',
  mov: 'video/quicktime',
  webm: 'video/webm',
  flv: 'video/x-flv',
  wmv: 'video/wmv',
  '3gp': 'video/3gpp',
  avi: 'video/avi',
};

/** The MIME type implied by a URI's file extension, ignoring any query string. */
export function mimeTypeFromUri(uri: string): string | undefined {
  const path = uri.split(/[?#]/, 1)[0] ?? '';
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return undefined;
  return extensionMimeTypes[path.slice(dot + 1).toLowerCase()];
}
