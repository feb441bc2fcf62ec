/**
 * Memory with one huge record, per format: a JSONL line, a CSV field (quoted, with commas and
 * line breaks) and a JSON array item, each among ordinary records, converted by the CLI
 * (`sft-pipeline convert`, one thread) in a process of its own. Sizes: just under the per-record
 * limit (the largest record that is read), and over it (skipped without being held, reported).
 * Prints peak RSS per case and what the report says of the big record. Asserts nothing.
 *
 * Usage: node bench/record-limit.ts [--limit 8MiB] [--over 300MB]
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseByteSize } from '../shared/byte-size.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../shared/convert/readers/errors.ts';

const { values } = parseArgs({ options: { limit: { type: 'string' }, over: { type: 'string', default: '300MB' } } });
const limit = values.limit ? parseByteSize(values.limit)! : DEFAULT_MAX_RECORD_BYTES;
const over = parseByteSize(values.over!)!;
const cli = fileURLToPath(new URL('../bin/sft-pipeline.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'record-limit-'));

const ORDINARY = 20;
const sentence = 'The parcel left the depot on Monday, and the tracking page still says "label created".\n';

/** Writes `size` bytes of text in pieces, so the bench itself never holds the record. */
async function writeText(out: NodeJS.WritableStream, size: number, escape: (text: string) => string): Promise<void> {
  const piece = escape(sentence.repeat(1000));
  let written = 0;
  while (written + piece.length <= size) {
    if (!out.write(piece)) await once(out, 'drain');
    written += piece.length;
  }
}

async function makeFile(format: 'jsonl' | 'csv' | 'json', bigBytes: number): Promise<string> {
  const path = join(dir, `big-${bigBytes}.${format}`);
  const out = createWriteStream(path);
  const jsonText = (text: string) => JSON.stringify(text).slice(1, -1);
  const example = (i: number) =>
    JSON.stringify({
      contents: [
        { role: 'user', parts: [{ text: `Where is order ${i}?` }] },
        { role: 'model', parts: [{ text: `Order ${i} ships tomorrow.` }] },
      ],
    });
  if (format === 'csv') {
    out.write('prompt,response\n');
    for (let i = 0; i < ORDINARY / 2; i++) out.write(`Where is order ${i}?,Order ${i} ships tomorrow.\n`);
    out.write('"Summarise this thread","');
    await writeText(out, bigBytes, (text) => text.replaceAll('"', '""'));
    out.write('"\n');
    for (let i = ORDINARY / 2; i < ORDINARY; i++) out.write(`Where is order ${i}?,Order ${i} ships tomorrow.\n`);
  } else {
    const [open, separator, close] = format === 'json' ? ['[', ',\n', ']\n'] : ['', '\n', '\n'];
    out.write(open);
    for (let i = 0; i < ORDINARY / 2; i++) out.write(example(i) + separator);
    out.write('{"contents":[{"role":"user","parts":[{"text":"Summarise this thread"}]},{"role":"model","parts":[{"text":"');
    await writeText(out, bigBytes, jsonText);
    out.write('"}]}]}' + separator);
    for (let i = ORDINARY / 2; i < ORDINARY; i++) out.write(example(i) + (i === ORDINARY - 1 ? close : separator));
  }
  out.end();
  await once(out, 'close');
  return path;
}

console.log(
  `per-record limit ${(limit / 2 ** 20).toFixed(1)} MiB; ${ORDINARY} ordinary records around one big one; CLI convert, one thread`,
);
console.log('format  big record     peak RSS    wall s   converted  the big record in the report');
for (const format of ['jsonl', 'csv', 'json'] as const) {
  for (const bigBytes of [limit - 256 * 1024, over]) {
    const path = await makeFile(format, bigBytes);
    const out = join(dir, `out-${format}-${bigBytes}`);
    const started = performance.now();
    const run = spawnSync(
      '/usr/bin/time',
      ['-f', '%M', process.execPath, cli, 'convert', path, '--out', out, '--threads', '0', '--max-record-bytes', String(limit), '--json'],
      { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    const seconds = (performance.now() - started) / 1000;
    const peakKb = Number(run.stderr.trim().split('\n').at(-1));
    let outcome = `exit ${run.status}`;
    let converted = '?';
    try {
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
        examples: { valid: number };
        errors: { line: number; code: string }[];
      };
      converted = String(report.examples.valid);
      // The big record is the only one that can have an error; the ordinary ones are all valid.
      const big = report.errors[0];
      outcome = big ? `line ${big.line}: ${big.code}` : 'read, and converted';
    } catch {
      outcome += `: ${run.stderr.slice(0, 200)}`;
    }
    console.log(
      `${format.padEnd(6)}  ${(bigBytes / 1e6).toFixed(1).padStart(7)} MB  ${(peakKb / 1024).toFixed(0).padStart(7)} MiB  ${seconds.toFixed(1).padStart(7)}  ${converted.padStart(9)}  ${outcome}`,
    );
    rmSync(path);
  }
}
rmSync(dir, { recursive: true, force: true });
