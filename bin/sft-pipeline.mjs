#!/usr/bin/env node
// The `sft-pipeline` command. The CLI is TypeScript run by Node 22's type stripping; when this
// shim is started by an older Node (these machines ship Node 20), it re-runs itself on the
// Node 22 that the `node` devDependency installs in node_modules.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
} else {
  const node22 = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(node22)) {
    console.error(
      `sft-pipeline needs Node.js 22.18 or newer (found ${process.version}); run \`npm ci\` in the checkout or install Node 22.`,
    );
    process.exit(2);
  }
  const result = spawnSync(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
