/**
 * Splitting one long unbroken text part at 8,192-token boundaries: the shapes that used to make
 * it superlinear (one character repeated, a two-character pattern, base64 pasted into a text
 * field) at three sizes, beside counting the same text. Linear splitting keeps the split/count
 * ratio flat as the size grows. Printed, never asserted.
 */
import { loadGemmaTokenizer } from '../adapters/tokenizer/index.ts';
import { splitTextByTokens } from '../shared/convert/split-parts.ts';

const gemma = loadGemmaTokenizer();
const shapes: [string, (chars: number) => string][] = [
  ['one character repeated', (n) => 'a'.repeat(n)],
  ['"=-" repeated', (n) => '=-'.repeat(n / 2)],
  ['base64', (n) => Buffer.from(Array.from({ length: (n * 3) / 4 }, (_, i) => (i * 2654435761) % 251)).toString('base64')],
];
const time = (run: () => unknown) => {
  const start = performance.now();
  const value = run();
  return { ms: performance.now() - start, value };
};
console.log('shape                     chars      count ms   split ms   split/count   parts');
for (const [name, make] of shapes) {
  for (const chars of [100_000, 400_000, 1_600_000]) {
    const text = make(chars);
    const counted = time(() => gemma.count(text));
    const split = time(() => splitTextByTokens(text, 8192, gemma));
    const parts = (split.value as string[]).length;
    console.log(
      `${name.padEnd(24)} ${String(chars).padStart(9)} ${counted.ms.toFixed(0).padStart(10)} ${split.ms.toFixed(0).padStart(10)} ${(split.ms / counted.ms).toFixed(1).padStart(12)}x ${String(parts).padStart(7)}`,
    );
  }
}
