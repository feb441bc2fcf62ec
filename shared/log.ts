import type { LogEventName } from './log-events.ts';

/**
 * Structured JSON logs, one object per line on stdout/stderr, in the shape Cloud Logging parses
 * from Cloud Run functions: `severity` and `message` are lifted into the entry, every other field
 * lands in `jsonPayload`. See https://cloud.google.com/logging/docs/structured-logging.
 */
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

const rank: Record<Severity, number> = { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3 };

export interface LogSink {
  write(line: string, severity: Severity): void;
}

const stdSink: LogSink = {
  write(line, severity) {
    (severity === 'ERROR' || severity === 'WARNING' ? process.stderr : process.stdout).write(line + '\n');
  },
};

export interface Logger {
  debug(event: LogEventName, message: string, fields?: Record<string, unknown>): void;
  info(event: LogEventName, message: string, fields?: Record<string, unknown>): void;
  warn(event: LogEventName, message: string, fields?: Record<string, unknown>): void;
  error(event: LogEventName, message: string, fields?: Record<string, unknown>): void;
  /** A logger whose entries all carry `fields` (e.g. the run id), for one request's work. */
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  component: string,
  options: { level?: Severity; sink?: LogSink; base?: Record<string, unknown> } = {},
): Logger {
  const minimum = rank[options.level ?? (process.env.LOG_LEVEL as Severity | undefined) ?? 'INFO'] ?? rank.INFO;
  const sink = options.sink ?? stdSink;
  const base = options.base ?? {};
  const emit = (severity: Severity, event: LogEventName, message: string, fields?: Record<string, unknown>) => {
    if (rank[severity] < minimum) return;
    const entry = { severity, message, event, component, ...base, ...fields, time: new Date().toISOString() };
    sink.write(JSON.stringify(entry, errorReplacer), severity);
  };
  return {
    debug: (e, m, f) => emit('DEBUG', e, m, f),
    info: (e, m, f) => emit('INFO', e, m, f),
    warn: (e, m, f) => emit('WARNING', e, m, f),
    error: (e, m, f) => emit('ERROR', e, m, f),
    child: (fields) => createLogger(component, { ...options, base: { ...base, ...fields } }),
  };
}

// Error objects stringify to {} by default; keep what a reader of the log needs.
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack, ...(value as unknown as Record<string, unknown>) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
