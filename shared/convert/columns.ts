import type { ColumnMap } from './types.ts';

/**
 * Which CSV/TSV column feeds which role. Common header names are recognised so that a sheet
 * exported as-is converts without flags; `--map user=question,model=answer` (or a sidecar's
 * columnMap) overrides any of them.
 */
const RECOGNISED: Record<keyof ColumnMap, readonly string[]> = {
  user: ['prompt', 'input', 'question', 'user', 'query', 'instruction', 'request'],
  model: ['response', 'output', 'answer', 'completion', 'model', 'assistant', 'target', 'reply'],
  system: ['system', 'system_prompt', 'system_instruction', 'systeminstruction'],
  file: ['image', 'image_uri', 'image_url', 'file_uri', 'file_url', 'file', 'media', 'media_uri'],
};

const ROLES = Object.keys(RECOGNISED) as (keyof ColumnMap)[];

export class ColumnMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ColumnMapError';
  }
}

/** Parses `user=question,model=answer`; an unknown role or a malformed pair is an error. */
export function parseColumnMap(spec: string): ColumnMap {
  const map: ColumnMap = {};
  for (const pair of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) {
      throw new ColumnMapError(`--map: "${pair}" is not ROLE=COLUMN (roles: ${ROLES.join(', ')})`);
    }
    const role = pair.slice(0, eq).trim().toLowerCase();
    if (!(ROLES as string[]).includes(role)) {
      throw new ColumnMapError(`--map: unknown role "${role}" (roles: ${ROLES.join(', ')})`);
    }
    map[role as keyof ColumnMap] = pair.slice(eq + 1).trim();
  }
  return map;
}

const normalise = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

/**
 * The columns to use for a header: explicit choices first, then recognised names. Throws when
 * an explicit column is absent or no user/model column can be found, naming the header seen.
 */
export function resolveColumns(header: readonly string[], explicit: ColumnMap = {}): ColumnMap {
  const byNormalised = new Map(header.map((name) => [normalise(name), name]));
  const resolved: ColumnMap = {};
  const taken = new Set<string>();
  for (const role of ROLES) {
    const wanted = explicit[role];
    if (wanted === undefined) continue;
    const actual = header.includes(wanted) ? wanted : byNormalised.get(normalise(wanted));
    if (actual === undefined) {
      throw new ColumnMapError(`column "${wanted}" for ${role} is not in the header (${header.join(', ')})`);
    }
    resolved[role] = actual;
    taken.add(actual);
  }
  for (const role of ROLES) {
    if (resolved[role] !== undefined) continue;
    for (const candidate of RECOGNISED[role]) {
      const actual = byNormalised.get(candidate);
      if (actual !== undefined && !taken.has(actual)) {
        resolved[role] = actual;
        taken.add(actual);
        break;
      }
    }
  }
  const missing = (['user', 'model'] as const).filter((role) => resolved[role] === undefined);
  if (missing.length > 0) {
    throw new ColumnMapError(
      `no ${missing.join(' or ')} column in the header (${header.join(', ')}); ` +
        `name one with --map ${missing.map((r) => `${r}=COLUMN`).join(',')} ` +
        `(recognised: ${missing.map((r) => RECOGNISED[r].join('/')).join('; ')})`,
    );
  }
  return resolved;
}
