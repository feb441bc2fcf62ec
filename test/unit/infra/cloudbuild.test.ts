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

/**
 * Cloud Build's substitution rules ("Substituting variable values"): `$NAME` and `${NAME}` in a
 * step are substitutions, built-in or user-defined (`_` first); a literal `$` is written `$$`;
 * with the default substitution option (MUST_MATCH) a build naming one that does not exist is
 * refused before it starts. So a shell variable written `$PWD` stops the build.
 */
const BUILT_IN = new Set(['PROJECT_ID', 'BUILD_ID', 'PROJECT_NUMBER', 'LOCATION', 'TRIGGER_NAME', 'COMMIT_SHA', 'REVISION_ID', 'SHORT_SHA', 'REPO_NAME', 'REPO_FULL_NAME', 'BRANCH_NAME', 'TAG_NAME', 'REF_NAME', 'TRIGGER_BUILD_CONFIG_PATH', 'SERVICE_ACCOUNT_EMAIL', 'SERVICE_ACCOUNT']);

test('every $NAME in a step is a substitution Cloud Build knows; shell variables are written $$NAME', () => {
  const user = new Set(Object.keys(build.substitutions));
  for (const step of build.steps) {
    const args = step.args.join('\n').replace(/\$\$/g, '');
    for (const match of args.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g)) {
      const name = match[1] ?? match[2]!;
      assert.ok(BUILT_IN.has(name) || user.has(name), `step ${step.id}: $${name} is no substitution (write $$${name} for the shell's)`);
    }
  }
});

/**
 * What each image carries, from its own documentation: google-cloud-cli's images have gcloud,
 * bash and apt-get (the emulators variant also the Firestore and Pub/Sub emulators and Java), but
 * no Node, npm, curl or gpg in the final stage. Each step is a fresh container, so a tool a step
 * calls must be in its image or installed by that step before it is called.
 */
const IMAGE_TOOLS: Record<string, string[]> = {
  'gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators': ['bash', 'gcloud', 'apt-get', 'java', 'echo', 'test', 'set'],
  'gcr.io/google.com/cloudsdktool/google-cloud-cli:stable': ['bash', 'gcloud', 'apt-get', 'echo', 'test', 'set'],
};
const INSTALLS: Record<string, string[]> = { nodejs: ['node'], npm: ['npm'], curl: ['curl'], gnupg: ['gpg'], 'lsb-release': ['lsb_release'], terraform: ['terraform'] };

test("each step calls only tools its image has or that the step installed first", () => {
  for (const step of build.steps) {
    const available = new Set(IMAGE_TOOLS[step.name] ?? []);
    assert.ok(IMAGE_TOOLS[step.name], `step ${step.id}: image ${step.name} is not described`);
    const script = step.args.filter((arg) => arg !== '-c').join('\n');
    for (const command of script.split(/\n|&&|\|\||\||;/)) {
      const words = command.trim().replace(/^[A-Z_]+=\S+\s+/g, '').replace(/^(CI|PATH)=\S+\s+/g, '').split(/\s+/);
      const tool = words[0]?.replace(/^\(/, '');
      if (!tool || tool.startsWith('-') || tool.startsWith('"') || tool === '{' || tool === '}') continue;
      const installed = /^apt-get$/.test(tool) && words[1] === 'install' ? words.slice(2).filter((word) => !word.startsWith('-') && !word.startsWith('>')) : [];
      for (const name of installed) for (const given of INSTALLS[name] ?? [name]) available.add(given);
      if (['apt-get', 'bash', 'set', 'test', 'echo', 'exit', 'cd', 'export', 'true', 'false'].includes(tool) || available.has(tool)) continue;
      assert.fail(`step ${step.id} calls ${tool}, which ${step.name} does not have and the step did not install before`);
    }
  }
});
