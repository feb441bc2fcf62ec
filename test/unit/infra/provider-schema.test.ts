import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

/**
 * `infra/*.tf` against the providers' own schema (the Google provider 6.50.0, google-beta 6.50.0,
 * archive 2.7.1), extracted from HashiCorp's generated bindings into
 * test/fixtures/terraform/provider-schema.json by scripts/extract-provider-schema.ts: every
 * argument a resource, data source or provider block sets exists, every required one is set, and
 * a nested block is written as a block. What `terraform validate` would refuse fails here.
 */
interface BlockSchema {
  attributes: Record<string, { required: boolean }>;
  blocks: Record<string, { required: boolean; schema: BlockSchema }>;
}
interface ProviderSchema {
  resource: Record<string, BlockSchema>;
  data: Record<string, BlockSchema>;
  provider: Record<string, BlockSchema>;
}
type Body = Record<string, unknown>;

const fixture = fileURLToPath(new URL('../../fixtures/terraform/provider-schema.json', import.meta.url));
const schema = JSON.parse(readFileSync(fixture, 'utf8')) as ProviderSchema;
const infra = fileURLToPath(new URL('../../../infra/', import.meta.url));

/** Terraform's meta-arguments (language docs, "Meta-Arguments"): any resource or data source takes them. */
const META = new Set(['count', 'for_each', 'provider', 'depends_on', 'lifecycle', 'provisioner', 'connection']);
/** terraform_data is built into Terraform (since 1.4): input, triggers_replace. */
const BUILT_IN: Record<string, BlockSchema> = {
  terraform_data: { attributes: { input: { required: false }, triggers_replace: { required: false } }, blocks: {} },
};

/** What is wrong with one block's body against its schema, each said with where it is. */
export function schemaProblems(body: Body, block: BlockSchema, where: string, topLevel: boolean): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (topLevel && META.has(key)) continue;
    if (key === 'dynamic') {
      for (const [name, uses] of Object.entries(value as Record<string, Body[]>)) {
        const nested = block.blocks[name];
        if (!nested) {
          problems.push(`${where}: dynamic "${name}" is not a block of this type`);
          continue;
        }
        for (const use of uses)
          for (const content of (use.content ?? []) as Body[]) problems.push(...schemaProblems(content, nested.schema, `${where}.${name}`, false));
      }
      continue;
    }
    const nested = block.blocks[key];
    if (nested) {
      if (!Array.isArray(value)) {
        problems.push(`${where}: ${key} is a block: write ${key} { … }, not ${key} = …`);
        continue;
      }
      for (const [index, item] of (value as Body[]).entries())
        problems.push(...schemaProblems(item, nested.schema, `${where}.${key}[${index}]`, false));
      continue;
    }
    if (!block.attributes[key]) problems.push(`${where}: unknown argument ${key}`);
  }
  for (const [name, attribute] of Object.entries(block.attributes))
    if (attribute.required && !(name in body)) problems.push(`${where}: the required argument ${name} is missing`);
  const dynamic = (body.dynamic ?? {}) as Record<string, unknown>;
  for (const [name, nested] of Object.entries(block.blocks))
    if (nested.required && !(name in body) && !(name in dynamic)) problems.push(`${where}: the required block ${name} is missing`);
  return problems;
}

async function infraProblems(): Promise<{ problems: string[]; checked: number }> {
  const problems: string[] = [];
  let checked = 0;
  for (const file of readdirSync(infra).filter((name) => name.endsWith('.tf'))) {
    const parsed = (await parse(file, readFileSync(`${infra}${file}`, 'utf8'))) as Record<string, unknown>;
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries((parsed[kind] ?? {}) as Record<string, Record<string, Body[]>>)) {
        const known = kind === 'resource' ? (schema.resource[type] ?? BUILT_IN[type]) : schema.data[type];
        for (const [name, bodies] of Object.entries(byName)) {
          if (!known) {
            problems.push(`${file}: ${kind} ${type}.${name}: not in the provider schema fixture (node scripts/extract-provider-schema.ts)`);
            continue;
          }
          for (const body of bodies) problems.push(...schemaProblems(body, known, `${file}: ${kind} ${type}.${name}`, true));
          checked += 1;
        }
      }
    }
    for (const [name, bodies] of Object.entries((parsed.provider ?? {}) as Record<string, Body[]>)) {
      for (const body of bodies) {
        const known = schema.provider[name];
        if (!known) problems.push(`${file}: provider ${name}: not in the provider schema fixture`);
        else problems.push(...schemaProblems(body, known, `${file}: provider ${name}`, true));
        checked += 1;
      }
    }
  }
  return { problems, checked };
}

test("every resource, data source and provider block in infra/ is valid against the providers' own schema", async () => {
  const { problems, checked } = await infraProblems();
  assert.deepEqual(problems, []);
  assert.ok(checked >= 30, `${checked} blocks checked`);
});

test('the check sees the faults terraform validate would: an unknown argument, a missing required one, a block written as a map', () => {
  const bucket = schema.resource.google_storage_bucket!;
  assert.deepEqual(schemaProblems({ name: 'b', location: 'EU', lifecycle_rules: [] }, bucket, 'bucket', true), [
    'bucket: unknown argument lifecycle_rules',
  ]);
  assert.deepEqual(schemaProblems({ name: 'b' }, bucket, 'bucket', true), ['bucket: the required argument location is missing']);
  assert.deepEqual(schemaProblems({ name: 'b', location: 'EU', versioning: { enabled: true } }, bucket, 'bucket', true), [
    'bucket: versioning is a block: write versioning { … }, not versioning = …',
  ]);
  const fn = schema.resource.google_cloudfunctions2_function!;
  assert.deepEqual(
    schemaProblems({ name: 'f', location: 'eu', service_config: [{ available_cpus: '1' }] }, fn, 'fn', true),
    ['fn.service_config[0]: unknown argument available_cpus'],
    'a misspelt nested argument (available_cpu) is caught',
  );
  assert.deepEqual(
    schemaProblems({ name: 'f', location: 'eu', dynamic: { event_triggers: [{ content: [{}] }] } }, fn, 'fn', true),
    ['fn: dynamic "event_triggers" is not a block of this type'],
  );
});
