/**
 * Extracts the Terraform provider schema of the resource and data source types `infra/` uses into
 * a small committed fixture (test/fixtures/terraform/provider-schema.json), as the tokenizer's
 * vocabulary is extracted: no Terraform binary can run here, so the tests check `infra/*.tf`
 * against it instead (test/unit/infra/provider-schema.test.ts).
 *
 * The source is HashiCorp's prebuilt CDKTF bindings on npm, generated from each provider's own
 * schema: @cdktf/provider-google 16.12.1 and @cdktf/provider-google-beta 16.12.1 (provider 6.50.0),
 * @cdktf/provider-archive 11.0.1 (provider 2.7.1). Each resource's `…Config` interface lists its
 * arguments: the Terraform name is the anchor of the registry link in its doc comment, a `?`
 * marks an optional one, and a type naming another interface of the file is a nested block.
 *
 *   node scripts/extract-provider-schema.ts            # npm pack the three packages into a temp dir
 *   node scripts/extract-provider-schema.ts --from DIR # DIR holds them unpacked, one folder each
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from '@cdktf/hcl2json';

const PACKAGES = {
  google: '@cdktf/provider-google@16.12.1',
  'google-beta': '@cdktf/provider-google-beta@16.12.1',
  archive: '@cdktf/provider-archive@11.0.1',
} as const;
type ProviderName = keyof typeof PACKAGES;

export interface BlockSchema {
  attributes: Record<string, { required: boolean }>;
  blocks: Record<string, { required: boolean; schema: BlockSchema }>;
}

const root = fileURLToPath(new URL('../', import.meta.url));
const target = join(root, 'test/fixtures/terraform/provider-schema.json');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' } } });
  const from = values.from ?? packAll();
  const used = await usedTypes();
  const schema: Record<string, unknown> = {
    source: Object.values(PACKAGES).join(', '),
    providers: { google: '6.50.0', 'google-beta': '6.50.0', archive: '2.7.1' },
    resource: {} as Record<string, BlockSchema>,
    data: {} as Record<string, BlockSchema>,
    provider: {} as Record<string, BlockSchema>,
  };
  for (const { kind, type, provider } of used) {
    const lib = join(from, provider, 'package/lib');
    const found = findDeclaration(lib, kind, type);
    if (!found) throw new Error(`${kind} ${type} is not in ${PACKAGES[provider]}`);
    (schema[kind] as Record<string, BlockSchema>)[type] = found;
  }
  mkdirSync(join(root, 'test/fixtures/terraform'), { recursive: true });
  writeFileSync(target, `${JSON.stringify(schema, null, 1)}\n`);
  console.log(`wrote ${target}: ${used.length} types`);
}

/** npm pack each package into a temp dir and unpack it there (about 60 MB in all). */
function packAll(): string {
  const dir = mkdtempSync(join(tmpdir(), 'provider-schema-'));
  for (const [name, spec] of Object.entries(PACKAGES)) {
    const into = join(dir, name);
    mkdirSync(into);
    const file = execFileSync('npm', ['pack', spec, '--silent'], { cwd: into, encoding: 'utf8' }).trim().split('\n').at(-1)!;
    execFileSync('tar', ['xzf', file], { cwd: into });
  }
  return dir;
}

/** The resource, data source and provider types `infra/*.tf` uses, with the provider each comes from. */
async function usedTypes(): Promise<{ kind: 'resource' | 'data' | 'provider'; type: string; provider: ProviderName }[]> {
  const infra = join(root, 'infra');
  const seen = new Map<string, { kind: 'resource' | 'data' | 'provider'; type: string; provider: ProviderName }>();
  for (const name of readdirSync(infra).filter((file) => file.endsWith('.tf'))) {
    const parsed = (await parse(name, readFileSync(join(infra, name), 'utf8'))) as Record<string, unknown>;
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries((parsed[kind] ?? {}) as Record<string, Record<string, Record<string, unknown>[]>>)) {
        if (type === 'terraform_data') continue; // built into Terraform itself, not a provider's
        for (const blocks of Object.values(byName)) {
          const explicit = String(blocks[0]?.provider ?? '').replace(/^\$\{|\}$/g, '');
          const provider = (explicit || type.split('_')[0]) as ProviderName;
          seen.set(`${kind} ${type} ${provider}`, { kind, type, provider });
        }
      }
    }
    for (const type of Object.keys((parsed.provider ?? {}) as Record<string, unknown>))
      seen.set(`provider ${type}`, { kind: 'provider', type, provider: type as ProviderName });
  }
  return [...seen.values()].sort((a, b) => `${a.kind} ${a.type}`.localeCompare(`${b.kind} ${b.type}`));
}

/** The schema of `type` from the bindings' declaration file that declares it. */
function findDeclaration(lib: string, kind: 'resource' | 'data' | 'provider', type: string): BlockSchema | null {
  const base = kind === 'provider' ? 'TerraformProvider' : kind === 'data' ? 'TerraformDataSource' : 'TerraformResource';
  for (const dir of readdirSync(lib)) {
    const file = join(lib, dir, 'index.d.ts');
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (!text.includes(`tfResourceType = "${type}";`) || !text.includes(`extends cdktf.${base} {`)) continue;
    const interfaces = interfacesOf(text);
    const config = [...interfaces.keys()].find((name) => name.endsWith('Config') && interfaces.get(name)!.meta);
    if (!config) throw new Error(`${file}: no Config interface`);
    return blockSchema(config, interfaces, 0);
  }
  return null;
}

interface InterfaceText {
  body: string;
  /** Extends cdktf.TerraformMetaArguments (a resource's or data source's own config). */
  meta: boolean;
}

function interfacesOf(text: string): Map<string, InterfaceText> {
  const found = new Map<string, InterfaceText>();
  for (const match of text.matchAll(/^export interface (\w+)( extends [^{]+)? \{\n([\s\S]*?)^\}/gm))
    found.set(match[1]!, {
      body: match[3]!,
      meta: (match[2] ?? '').includes('TerraformMetaArguments') || match[1]!.endsWith('ProviderConfig'),
    });
  return found;
}

function blockSchema(name: string, interfaces: Map<string, InterfaceText>, depth: number): BlockSchema {
  if (depth > 12) throw new Error(`${name}: nesting deeper than 12`);
  const schema: BlockSchema = { attributes: {}, blocks: {} };
  for (const property of propertiesOf(interfaces.get(name)!.body)) {
    const nested = [...property.type.matchAll(/\b([A-Z]\w+)\b/g)].map((m) => m[1]!).find((id) => interfaces.has(id) && id !== name);
    if (nested) schema.blocks[property.name] = { required: property.required, schema: blockSchema(nested, interfaces, depth + 1) };
    else schema.attributes[property.name] = { required: property.required };
  }
  return schema;
}

/** Each `readonly name?: Type;` with the Terraform name its doc comment's registry link ends with. */
function propertiesOf(body: string): { name: string; required: boolean; type: string }[] {
  const properties: { name: string; required: boolean; type: string }[] = [];
  const pattern = /\/\*\*([\s\S]*?)\*\/\s*readonly (\w+)(\?)?: /g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(body))) {
    let depth = 0;
    let end = pattern.lastIndex;
    for (; end < body.length; end++) {
      const char = body[end]!;
      if ('{([<'.includes(char)) depth += 1;
      else if ('})]>'.includes(char)) depth -= 1;
      else if (char === ';' && depth === 0) break;
    }
    const anchors = [...match[1]!.matchAll(/#([a-z0-9_]+)\}/g)];
    const name = anchors.at(-1)?.[1];
    if (!name) throw new Error(`no Terraform name for ${match[2]}`);
    properties.push({ name, required: match[3] !== '?', type: body.slice(pattern.lastIndex, end) });
    pattern.lastIndex = end;
  }
  return properties;
}

await main();
