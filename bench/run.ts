/**
 * `npm run bench`: every benchmark, each in its own process, figures printed and never asserted.
 * Arguments are passed on (e.g. `npm run bench -- --sizes 10MB` skips the 1 GB converter run).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const sizes = args.includes('--sizes') ? ['--sizes', args[args.indexOf('--sizes') + 1]!] : [];
const benches: [string, string[]][] = [
  ['tokenizer.ts', []],
  ['split.ts', []],
  ['convert.ts', sizes],
  ['threads-ceiling.ts', []],
  ['converter-function.ts', sizes],
  ['record-limit.ts', []],
  ['parquet.ts', []],
  ['poller.ts', []],
  ['scoring.ts', []],
];
let failed = false;
for (const [file, extra] of benches) {
  console.log(`\n== bench/${file}`);
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(`./${file}`, import.meta.url)), ...extra], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
