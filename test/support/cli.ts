import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/sft-pipeline.mjs');

/**
 * Runs the real binary from the repository root, started by the system's Node as a user would
 * (the shim finds Node 22), with `env` over the environment.
 */
export function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync('node', [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env, PATH: `/usr/bin:/usr/local/bin:${process.env.PATH}` },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
