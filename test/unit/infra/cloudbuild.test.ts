import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * cloudbuild.yaml cannot run here (no Cloud Build), so it is checked as data like infra/: the
 * order of the gates, that the tests run as CI runs them (browser included), and that deploying
 * needs the state bucket and nothing secret.
 */
const text = readFileSync(fileURLToPath(new URL('../../../cloudbuild.yaml', import.meta.url)), 'utf8');
const build = parse(text) as { steps: { id: string; name: string; args: string[]; dir?: string }[]; substitutions: Record<string, string>; timeout: string };
const script = (id: string) => build.steps.find((step) => step.id === id)!.args.join(' ');

test('Cloud Build gates the deploy: install, type check, lint, every test, build, then Terraform', () => {
  assert.deepEqual(build.steps.map((step) => step.id), ['install', 'typecheck', 'lint', 'test', 'build', 'deploy']);
  assert.match(script('install'), /bash scripts\/setup\.sh/);
  assert.match(script('typecheck'), /npm run typecheck/);
  assert.match(script('lint'), /npm run lint/);
  assert.match(script('build'), /npm run build/);
  assert.ok(Number.parseInt(build.timeout, 10) <= 5400, 'within the 90 minutes CI gets');
});

test('the test step runs every test as CI does: Chromium installed in its own container, browser tests required', () => {
  const test = script('test');
  assert.match(test, /bash scripts\/ensure-browser\.sh && CI=true .*npm run test:all/);
  // The emulators come with this image (google-cloud-cli with the Firestore and Pub/Sub emulators).
  assert.equal(build.steps.find((step) => step.id === 'test')!.name, 'gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators');
});

test('deploying needs the state bucket, applies infra/ with the project and region, and no secret is in the file', () => {
  const deploy = script('deploy');
  assert.equal(build.steps.find((step) => step.id === 'deploy')!.dir, 'infra');
  assert.match(deploy, /test -n "\$\{_TF_STATE_BUCKET\}"/);
  assert.match(deploy, /terraform apply -input=false -auto-approve -var="project=\$\{PROJECT_ID\}" -var="region=\$\{_REGION\}"/);
  assert.equal(build.substitutions._TF_STATE_BUCKET, '');
  assert.doesNotMatch(text, /(password|secret|api[_-]?key|token)\s*[:=]/i);
});
