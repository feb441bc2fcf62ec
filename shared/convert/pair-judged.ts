import { createHash } from 'node:crypto';
import { preferenceExample } from '../gemini/preference.ts';
import type { GeminiExample, GeminiPart, Issue } from './types.ts';

interface Held {
  answer: GeminiPart[];
  line: number;
  item?: number;
  bytes: number;
}

/**
 * KTO answers are judged one by one (desirable or not); Vertex's preference tuning learns from
 * pairs. An answer waits until an answer to the same prompt (system instruction and turns, byte
 * for byte) arrives judged the other way, and the two become one preference example. What never
 * finds its other half is left out with a warning. Waiting answers are bounded in memory: past
 * the bound a new one is left out at once, and says why.
 */
export class JudgedPairer {
  private readonly waiting = new Map<string, { prompt: GeminiExample; desirable: Held[]; undesirable: Held[] }>();
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(options: { maxBytes?: number } = {}) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  add(
    judged: { prompt: GeminiExample; answer: GeminiPart[]; desirable: boolean },
    line: number,
    item?: number,
  ): { example: GeminiExample; lines: [number, number] } | { leftOut: Issue } | null {
    const promptJson = JSON.stringify(judged.prompt);
    const key = createHash('sha256').update(promptJson).digest('hex');
    const entry = this.waiting.get(key);
    const other = entry?.[judged.desirable ? 'undesirable' : 'desirable'].shift();
    if (entry && other) {
      this.bytes -= other.bytes;
      if (entry.desirable.length === 0 && entry.undesirable.length === 0) {
        this.waiting.delete(key);
        this.bytes -= Buffer.byteLength(promptJson);
      }
      const [good, bad] = judged.desirable ? [judged.answer, other.answer] : [other.answer, judged.answer];
      return { example: preferenceExample(judged.prompt, good, bad), lines: [other.line, line] };
    }
    const held: Held = {
      answer: judged.answer,
      line,
      ...(item !== undefined ? { item } : {}),
      bytes: Buffer.byteLength(JSON.stringify(judged.answer)),
    };
    const promptBytes = entry ? 0 : Buffer.byteLength(promptJson);
    if (this.bytes + held.bytes + promptBytes > this.maxBytes) {
      return {
        leftOut: unpaired(
          line,
          item,
          `answers waiting for their other half passed ${this.maxBytes} bytes, so this one was left out (group each prompt's answers closer together in the file)`,
        ),
      };
    }
    this.bytes += held.bytes + promptBytes;
    const target = entry ?? { prompt: judged.prompt, desirable: [], undesirable: [] };
    target[judged.desirable ? 'desirable' : 'undesirable'].push(held);
    if (!entry) this.waiting.set(key, target);
    return null;
  }

  /** Every answer still waiting, as the warning that it was left out, in file order. */
  finish(): Issue[] {
    const left = [...this.waiting.values()].flatMap((entry) => [
      ...entry.desirable.map((held) => ({ held, judged: 'desirable (true)', missing: 'false' })),
      ...entry.undesirable.map((held) => ({ held, judged: 'undesirable (false)', missing: 'true' })),
    ]);
    this.waiting.clear();
    this.bytes = 0;
    return left
      .sort((a, b) => a.held.line - b.held.line || (a.held.item ?? 0) - (b.held.item ?? 0))
      .map(({ held, judged, missing }) =>
        unpaired(
          held.line,
          held.item,
          `this answer, judged ${judged}, has no answer to the same prompt labelled ${missing} to make a preference pair with: left out`,
        ),
      );
  }
}

function unpaired(line: number, item: number | undefined, message: string): Issue {
  return { line, code: 'kto_unpaired', message, path: item === undefined ? '' : `[${item - 1}]` };
}
