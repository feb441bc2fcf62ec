import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { PROTO_OVERLAYS } from './proto-overlays.ts';

/**
 * Google's contract for Vertex AI requests, read from the API definitions Google ships inside
 * `@google-cloud/aiplatform` (`build/protos/protos.json`, the `google.cloud.aiplatform.v1` and
 * `v1beta1` packages): every method's HTTP binding (`google.api.http`) and its request message.
 * The simulator checks each request against it before it serves it, so a misspelled field, a
 * bad enum value or a path Vertex does not have fails a test here instead of a customer's job.
 *
 * What follows Google's published rules, and where from:
 *  - paths and verbs: the `google.api.http` option of each rpc (google/api/http.proto explains
 *    the template syntax: `{name=projects/*}`, `*` one segment, `**` the rest);
 *  - the body: the binding's `body` field (`*` = the request message minus path-bound fields);
 *    query parameters name request fields (dotted for nested ones), as http.proto says;
 *  - JSON names: "the JSON name or the proto field name" are both accepted, per the
 *    protobuf JSON mapping (protobuf.dev/programming-guides/proto3/#json: "Parsers accept both
 *    the lowerCamelCase name … and the original proto field name");
 *  - value shapes per that mapping: 64-bit integers as numbers or strings, enums by name or
 *    number, bytes as base64, Timestamp/Duration/FieldMask as strings, Struct/Value any JSON;
 *  - `oneof`: at most one member set; `(google.api.field_behavior) = REQUIRED` must be set
 *    (AIP-203); OUTPUT_ONLY fields in a request are ignored (AIP-203 says servers must).
 * Google does not publish its error messages' wording; ours follow the shape of google.rpc.Status
 * with a google.rpc.BadRequest detail (google/rpc/error_details.proto), naming the field.
 */

const requireFromHere = createRequire(import.meta.url);
const PACKAGES = ['google.cloud.aiplatform.v1', 'google.cloud.aiplatform.v1beta1'] as const;

/** Query parameters every Google REST API takes besides the request's fields (system parameters). */
const SYSTEM_PARAMETERS = new Set([
  '$alt',
  'alt',
  'key',
  'prettyPrint',
  '$prettyPrint',
  'fields',
  '$fields',
  'quotaUser',
  'access_token',
  'callback',
  'upload_protocol',
  'uploadType',
  '$outputDefaults',
]);

export interface FieldViolation {
  field: string;
  description: string;
}

export interface ContractRoute {
  /** `google.cloud.aiplatform.v1beta1.GenAiTuningService.CreateTuningJob` */
  method: string;
  verb: string;
  template: string;
  requestType: protobuf.Type;
  /** `*`, a field name, or empty (no body). */
  body: string;
  pattern: RegExp;
  pathFields: string[];
}

export type ContractCheck =
  /** `body`: the request body with every field under its JSON name (as Google's parser reads it). */
  | { ok: true; route: ContractRoute; body: unknown }
  | { ok: false; status: 404; message: string }
  | { ok: false; status: 400; message: string; violations: FieldViolation[] };

interface Contract {
  root: protobuf.Root;
  routes: ContractRoute[];
}

let loaded: Contract | null = null;

/** Loads the definitions once per process (about 2 s and 100 MB: the simulator is a test tool). */
export function vertexContract(): Contract {
  if (loaded) return loaded;
  const path = requireFromHere.resolve('@google-cloud/aiplatform/build/protos/protos.json');
  const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(path, 'utf8')) as protobuf.INamespace);
  for (const overlay of PROTO_OVERLAYS) overlay.apply(root);
  root.resolveAll();
  loaded = { root, routes: PACKAGES.flatMap((pkg) => routesOf(root.lookup(pkg) as protobuf.Namespace)) };
  return loaded;
}

function routesOf(namespace: protobuf.Namespace): ContractRoute[] {
  const routes: ContractRoute[] = [];
  for (const nested of namespace.nestedArray) {
    if (!(nested instanceof protobuf.Service)) continue;
    for (const method of nested.methodsArray) {
      for (const binding of httpBindings(method)) {
        const requestType = method.resolvedRequestType ?? namespace.lookupType(method.requestType);
        const { pattern, fields: pathFields } = compileTemplate(binding.template);
        // Templates name fields by their proto names; protobufjs keeps the JSON names.
        const fields = pathFields.map((path) => path.split('.').map(camel).join('.'));
        routes.push({
          method: `${nested.fullName.slice(1)}.${method.name}`,
          verb: binding.verb,
          template: binding.template,
          requestType,
          body: binding.body,
          pattern,
          pathFields: fields,
        });
      }
    }
  }
  return routes;
}

function httpBindings(method: protobuf.Method): { verb: string; template: string; body: string }[] {
  const parsed = (method.parsedOptions ?? []) as Record<string, unknown>[];
  const http = parsed.find((option) => '(google.api.http)' in option)?.['(google.api.http)'] as
    (Record<string, unknown> & { additional_bindings?: Record<string, unknown> | Record<string, unknown>[] }) | undefined;
  if (!http) return [];
  const extra = http.additional_bindings;
  const all = [http, ...(Array.isArray(extra) ? extra : extra ? [extra] : [])];
  const bindings: { verb: string; template: string; body: string }[] = [];
  for (const rule of all) {
    for (const verb of ['get', 'post', 'put', 'patch', 'delete']) {
      if (typeof rule[verb] === 'string') {
        bindings.push({ verb: verb.toUpperCase(), template: rule[verb], body: typeof rule.body === 'string' ? rule.body : '' });
      }
    }
  }
  return bindings;
}

/** `/v1/{name=projects/*\/locations/*\/tuningJobs/*}:cancel` → a RegExp with one group per field. */
function compileTemplate(template: string): { pattern: RegExp; fields: string[] } {
  const fields: string[] = [];
  let source = '';
  for (const piece of template.split(/(\{[^}]+\})/)) {
    const variable = /^\{([^=}]+)(?:=([^}]+))?\}$/.exec(piece);
    if (!variable) {
      source += segmentPattern(piece);
      continue;
    }
    fields.push(variable[1]!);
    source += `(${segmentPattern(variable[2] ?? '*')})`;
  }
  return { pattern: new RegExp(`^${source}$`), fields };
}

function segmentPattern(text: string): string {
  return text
    .split('/')
    .map((segment) => (segment === '**' ? '.+' : segment === '*' ? '[^/]+' : escapeRegExp(segment)))
    .join('/');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The route an HTTP request takes, and whether its query and body keep Google's contract. */
export function checkRequest(verb: string, url: URL, body: unknown): ContractCheck {
  const { routes } = vertexContract();
  const path = decodeURIComponent(url.pathname);
  const candidates = routes.filter((route) => route.verb === verb && route.pattern.test(path));
  // The most specific template wins, as in Google's front end (a literal beats a wildcard).
  const route = candidates.sort((a, b) => literalLength(b.template) - literalLength(a.template))[0];
  if (!route) return { ok: false, status: 404, message: `Vertex AI has no method ${verb} ${url.pathname}` };
  const violations: FieldViolation[] = [];
  const match = route.pattern.exec(path)!;
  const pathValues = Object.fromEntries(route.pathFields.map((field, index) => [field, match[index + 1]!]));
  for (const [key] of url.searchParams) {
    if (SYSTEM_PARAMETERS.has(key)) continue;
    if (!queryFieldExists(route.requestType, key.split('.'))) {
      violations.push({
        field: key,
        description: `Invalid JSON payload received. Unknown name "${key}": Cannot bind query parameter. Field '${key}' could not be found in request message.`,
      });
    }
  }
  if (route.body === '') {
    if (body !== undefined && !(isObject(body) && Object.keys(body).length === 0)) {
      violations.push({ field: '', description: `${route.method} takes no request body` });
    }
  } else if (route.body === '*') {
    const excluded = new Set(route.pathFields.map((field) => field.split('.')[0]!));
    violations.push(...checkMessage(route.requestType, body ?? {}, '', { excluded, pathValues }));
  } else {
    const field = findField(route.requestType, route.body);
    if (field?.resolvedType instanceof protobuf.Type) {
      violations.push(...checkMessage(field.resolvedType, body ?? {}, snake(field.name)));
    }
  }
  if (violations.length > 0) return { ok: false, status: 400, message: errorMessage(violations), violations };
  const bodyType = route.body === '*' ? route.requestType : route.body ? findField(route.requestType, route.body)?.resolvedType : null;
  return { ok: true, route, body: bodyType instanceof protobuf.Type ? toJsonNames(bodyType, body) : body };
}

/** The same value with proto field names (`base_model`) renamed to JSON names (`baseModel`); map keys stay. */
function toJsonNames(type: protobuf.Type, value: unknown): unknown {
  if (!isObject(value) || type.fullName.startsWith('.google.protobuf.')) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      const field = findField(type, key);
      if (!field || !(field.resolvedType instanceof protobuf.Type) || item === null) return [field?.name ?? key, item];
      const nested = field.resolvedType;
      if (field.map) return [field.name, item];
      return [field.name, Array.isArray(item) ? item.map((element) => toJsonNames(nested, element)) : toJsonNames(nested, item)];
    }),
  );
}

function literalLength(template: string): number {
  return template.replace(/\{[^}]+\}/g, '').length;
}

function errorMessage(violations: FieldViolation[]): string {
  if (violations.length === 1 && violations[0]!.description.includes(`'${violations[0]!.field}'`)) return violations[0]!.description;
  return `List of found errors:\t${violations.map((v, i) => `${i + 1}.Field: ${v.field}; Message: ${v.description}\t`).join('')}`;
}

function queryFieldExists(type: protobuf.Type, path: string[]): boolean {
  const field = findField(type, path[0]!);
  if (!field) return false;
  if (path.length === 1) return true;
  return field.resolvedType instanceof protobuf.Type && queryFieldExists(field.resolvedType, path.slice(1));
}

/** A field by its JSON name or its proto name (protobufjs keeps the lowerCamelCase JSON name). */
function findField(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fields[camel(key)];
}

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

interface MessageOptions {
  /** Fields bound by the path (not expected in a `*` body). */
  excluded?: Set<string>;
  pathValues?: Record<string, string>;
}

function behavior(field: protobuf.Field): string | undefined {
  return field.options?.['(google.api.field_behavior)'] as string | undefined;
}

function checkMessage(type: protobuf.Type, value: unknown, at: string, options: MessageOptions = {}): FieldViolation[] {
  const wellKnown = checkWellKnown(type, value, at);
  if (wellKnown !== undefined) return wellKnown;
  if (!isObject(value))
    return [{ field: at, description: `Invalid value at '${at}' (type.googleapis.com/${type.fullName.slice(1)}): expected an object` }];
  const violations: FieldViolation[] = [];
  const seen = new Set<string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    const field = findField(type, key);
    const where = at ? `${at}.${key}` : key;
    if (!field) {
      violations.push({
        field: where,
        description: `Invalid JSON payload received. Unknown name "${key}" at '${at || 'request'}': Cannot find field.`,
      });
      continue;
    }
    if (seen.has(field.name)) {
      violations.push({
        field: where,
        description: `Invalid JSON payload received. Field '${key}' is set twice (by its JSON and its proto name).`,
      });
    }
    seen.add(field.name);
    if (options.excluded?.has(field.name) && options.pathValues?.[field.name] !== fieldValue) {
      violations.push({ field: where, description: `'${key}' is bound by the URL and differs from it in the body` });
    }
    if (fieldValue === null || behavior(field) === 'OUTPUT_ONLY') continue;
    violations.push(...checkField(field, fieldValue, `${at ? `${at}.` : ''}${snake(field.name)}`));
  }
  for (const oneof of type.oneofsArray) {
    // Synthetic oneofs (proto3 `optional`) hold one field; only real ones can be set twice.
    const set = oneof.fieldsArray.filter((field) => value[field.name] ?? value[snake(field.name)]);
    if (set.length > 1) {
      violations.push({
        field: at || oneof.name,
        description: `Invalid JSON payload received. Only one of ${set.map((f) => `'${snake(f.name)}'`).join(', ')} may be set (oneof ${snake(oneof.name)}).`,
      });
    }
  }
  for (const field of type.fieldsArray) {
    if (behavior(field) !== 'REQUIRED' || options.excluded?.has(field.name)) continue;
    const present = value[field.name] ?? value[snake(field.name)];
    const empty = present === undefined || present === null || present === '' || (Array.isArray(present) && present.length === 0);
    if (empty) violations.push({ field: `${at ? `${at}.` : ''}${snake(field.name)}`, description: 'Required field is not set.' });
  }
  return violations;
}

function checkField(field: protobuf.Field, value: unknown, at: string): FieldViolation[] {
  if (field.map) {
    if (!isObject(value)) return [{ field: at, description: `Invalid value at '${at}': a map is a JSON object` }];
    return Object.entries(value).flatMap(([key, item]) => checkSingle(field, item, `${at}[${JSON.stringify(key)}]`));
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return [{ field: at, description: `Invalid value at '${at}': a repeated field is a JSON array` }];
    return value.flatMap((item, index) => checkSingle(field, item, `${at}[${index}]`));
  }
  return checkSingle(field, value, at);
}

function checkSingle(field: protobuf.Field, value: unknown, at: string): FieldViolation[] {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return checkMessage(resolved, value, at);
  if (resolved instanceof protobuf.Enum) {
    const ok =
      typeof value === 'number' ? Object.values(resolved.values).includes(value) : typeof value === 'string' && value in resolved.values;
    return ok
      ? []
      : [
          {
            field: at,
            description: `Invalid value at '${at}' (type.googleapis.com/${resolved.fullName.slice(1)}), ${JSON.stringify(value)}`,
          },
        ];
  }
  return scalarOk(field.type, value)
    ? []
    : [{ field: at, description: `Invalid value at '${at}' (${field.type}), ${JSON.stringify(value)}` }];
}

const INTEGER = /^-?\d+$/;

function scalarOk(type: string, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'bool':
      return typeof value === 'boolean';
    case 'bytes':
      return typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value);
    case 'double':
    case 'float':
      return (
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && (['NaN', 'Infinity', '-Infinity'].includes(value) || Number.isFinite(Number(value))))
      );
    default:
      // int32, int64, uint32, uint64, sint*, fixed*, sfixed*: a JSON number or a decimal string.
      return (typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && INTEGER.test(value));
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Well-known types have JSON forms of their own (the protobuf JSON mapping's table). */
function checkWellKnown(type: protobuf.Type, value: unknown, at: string): FieldViolation[] | undefined {
  const bad = (what: string) => [
    { field: at, description: `Invalid value at '${at}' (${type.fullName.slice(1)}): ${what}, got ${JSON.stringify(value)}` },
  ];
  switch (type.fullName) {
    case '.google.protobuf.Timestamp':
      return typeof value === 'string' && RFC3339.test(value) ? [] : bad('an RFC 3339 time');
    case '.google.protobuf.Duration':
      return typeof value === 'string' && /^-?\d+(\.\d{1,9})?s$/.test(value) ? [] : bad('a duration like "1.5s"');
    case '.google.protobuf.FieldMask':
      return typeof value === 'string' ? [] : bad('comma-separated field paths');
    case '.google.protobuf.Struct':
      return isObject(value) ? [] : bad('a JSON object');
    case '.google.protobuf.Value':
      return [];
    case '.google.protobuf.ListValue':
      return Array.isArray(value) ? [] : bad('a JSON array');
    case '.google.protobuf.Empty':
      return isObject(value) && Object.keys(value).length === 0 ? [] : bad('{}');
    case '.google.protobuf.Any':
      return isObject(value) && typeof value['@type'] === 'string' ? [] : bad('an object with "@type"');
    case '.google.protobuf.StringValue':
    case '.google.protobuf.BytesValue':
    case '.google.protobuf.BoolValue':
    case '.google.protobuf.DoubleValue':
    case '.google.protobuf.FloatValue':
    case '.google.protobuf.Int32Value':
    case '.google.protobuf.Int64Value':
    case '.google.protobuf.UInt32Value':
    case '.google.protobuf.UInt64Value': {
      const inner = type.fields.value!;
      return scalarOk(inner.type, value) ? [] : bad(`a ${inner.type}`);
    }
    default:
      return undefined;
  }
}
