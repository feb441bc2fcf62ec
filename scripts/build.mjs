// `npm run build`: the JavaScript Cloud Run runs (tsc into dist/), plus the files the code reads
// at run time beside itself: the tokenizer vocabulary and the dashboard's static files.
import { cpSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
cpSync('assets', 'dist/assets', { recursive: true });
cpSync('functions/status/public', 'dist/functions/status/public', { recursive: true });
