/**
 * The README's main job. For now it runs the bundled samples through the converter, as a data
 * team would before uploading anything: each sample becomes out/<sample>/{train,validation}.jsonl
 * and report.json, with a summary printed. The sample files hold a few deliberately bad records,
 * so their rejections are expected and shown. (The whole local stack, emulators and all, grows
 * here as the other stages land.)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../cli/main.ts';

const samplesDir = new URL('../samples/', import.meta.url).pathname;
const outRoot = join(process.cwd(), 'out');
const samples = readdirSync(samplesDir).filter((name) => /\.(csv|tsv|jsonl|json)$/.test(name)).sort();
let failed = 0;
for (const sample of samples) {
  const outDir = join(outRoot, sample.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9._-]/g, '_'));
  const status = await main(['convert', join(samplesDir, sample), '--out', outDir, '--epochs', '3']);
  // 1 means some records were rejected and reported: expected for the samples' bad rows.
  if (status > 1) failed += 1;
  process.stdout.write('\n');
}
if (failed > 0) {
  console.error(`${failed} sample(s) could not be converted`);
  process.exitCode = 1;
} else {
  console.log(`converted ${samples.length} samples into ${outRoot}`);
}
