import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';

/**
 * Deterministic synthetic datasets for the benchmarks: support-ticket style conversations in
 * mixed English, Korean, code and JSON, so the tokenizer sees realistic variety (a word cache
 * that only ever sees one sentence would flatter it).
 */
export const DATA_DIR = new URL('./.data/', import.meta.url).pathname;

const words = [
  'the',
  'invoice',
  'was',
  'charged',
  'twice',
  'please',
  'refund',
  'account',
  'password',
  'reset',
  'expired',
  'link',
  'crash',
  'camera',
  'Android',
  'sync',
  'export',
  'CSV',
  'report',
  'weekly',
  'schedule',
  'pricing',
  'discount',
  'team',
  '주문',
  '내역이',
  '사라졌어요',
  '확인',
  '부탁드립니다',
  '결제',
  '환불',
  '계정',
  'API',
  '500',
  'error',
  '/v2/orders',
  'const',
  'x',
  '=',
  'await',
  'fetch(url);',
  '{"id":',
  '42}',
  'SELECT',
  '*',
  'FROM',
  'runs;',
  '😀',
  '👍',
  'naïve',
  'café',
];

function* tickets(seed: number): Generator<[string, string]> {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  for (let i = 0; ; i++) {
    const length = 8 + (next() % 40);
    const parts: string[] = [];
    for (let w = 0; w < length; w++) parts.push(words[next() % words.length]!);
    parts.push(`#${next() % 100000}`);
    const answer = JSON.stringify({ category: words[next() % 12], priority: ['low', 'medium', 'high'][next() % 3], ticket: i });
    yield [parts.join(' '), answer];
  }
}

export type DataKind = 'jsonl' | 'csv';

/** A file of about `bytes` bytes (made once, then reused from bench/.data). */
export async function ensureDataset(kind: DataKind, bytes: number): Promise<string> {
  await mkdir(DATA_DIR, { recursive: true });
  const path = join(DATA_DIR, `tickets-${bytes}.${kind}`);
  if (existsSync(path) && statSync(path).size >= bytes) return path;
  const out = createWriteStream(path);
  let written = 0;
  if (kind === 'csv') written += write(out, 'prompt,response\n');
  for (const [question, answer] of tickets(1)) {
    if (written >= bytes) break;
    const line =
      kind === 'csv'
        ? `${csvCell(question)},${csvCell(answer)}\n`
        : JSON.stringify({
            messages: [
              { role: 'system', content: 'Classify the ticket; answer in JSON.' },
              { role: 'user', content: question },
              { role: 'assistant', content: answer },
            ],
          }) + '\n';
    if (!out.write(line)) await once(out, 'drain');
    written += Buffer.byteLength(line);
  }
  out.end();
  await once(out, 'close');
  return path;
}

function write(out: NodeJS.WritableStream, text: string): number {
  out.write(text);
  return Buffer.byteLength(text);
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A text corpus of about `bytes` bytes, for tokenizer throughput. */
export function textCorpus(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (const [question, answer] of tickets(2)) {
    if (size >= bytes) break;
    parts.push(question, answer);
    size += Buffer.byteLength(question) + Buffer.byteLength(answer) + 2;
  }
  return parts.join('\n');
}

/** `10MB`, `1GB`, `500KB` → bytes (decimal units, as the benchmarks print them). */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB)$/i.exec(text.trim());
  if (!match) throw new Error(`--sizes: "${text}" is not like 10MB or 1GB`);
  return Math.round(Number(match[1]) * { KB: 1e3, MB: 1e6, GB: 1e9 }[match[2]!.toUpperCase() as 'KB' | 'MB' | 'GB']);
}
