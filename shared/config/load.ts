import type { z } from 'zod';
import { useModelOverrides, type ModelOverride } from '../gemini/models.ts';

/**
 * The one place environment variables become typed config. Each component declares its
 * zod schema beside this file (converter.ts, launcher.ts, ...) and calls `loadConfig` once at
 * start-up; a bad or missing variable fails start-up with every problem named at once,
 * instead of surfacing later as an undefined deep inside a handler.
 */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(component: string, issues: readonly string[]) {
    super(`invalid ${component} configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

const cache = new Map<z.ZodType, unknown>();

export function parseConfig<S extends z.ZodType>(
  component: string,
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      component,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`),
    );
  }
  // The operator's model rows apply to every check of this process, from start-up on.
  const models = (result.data as { MODEL_CATALOGUE?: ModelOverride[] }).MODEL_CATALOGUE;
  if (models) {
    try {
      useModelOverrides(models);
    } catch (error) {
      throw new ConfigError(component, [error instanceof Error ? error.message : String(error)]);
    }
  }
  return result.data;
}

/** Parses `process.env` with `schema` once per process; later calls return the same object. */
export function loadConfig<S extends z.ZodType>(component: string, schema: S): z.infer<S> {
  if (!cache.has(schema)) cache.set(schema, parseConfig(component, schema, process.env));
  return cache.get(schema) as z.infer<S>;
}

/** For tests that change the environment between cases. */
export function resetConfigCache(): void {
  cache.clear();
}
