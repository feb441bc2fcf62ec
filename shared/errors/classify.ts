import type { ErrorInfo } from '../runs/schema.ts';

/**
 * Transient or permanent, from what a Google API call failed with. Transient errors are worth
 * retrying (with backoff, then by redelivery); permanent ones are recorded once and never
 * retried, since the same request would fail the same way.
 *
 * HTTP statuses follow https://cloud.google.com/apis/design/errors (429 RESOURCE_EXHAUSTED,
 * 500 INTERNAL, 502, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED are retryable; 400, 401, 403, 404,
 * 409 are not). gRPC codes are mapped the same way for clients that report those.
 */
const TRANSIENT_HTTP = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_GRPC = new Set([4, 8, 10, 13, 14]); // DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE
const TRANSIENT_NETWORK = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|socket hang up|fetch failed|network|timed? ?out/i;

export function classifyError(error: unknown): ErrorInfo {
  const record = (typeof error === 'object' && error !== null ? error : {}) as { status?: unknown; code?: unknown; message?: unknown };
  const message = readableMessage(typeof record.message === 'string' ? record.message : String(error));
  const httpStatus =
    typeof record.status === 'number' ? record.status : typeof record.code === 'number' && record.code >= 100 ? record.code : undefined;
  if (httpStatus !== undefined) {
    return { kind: TRANSIENT_HTTP.has(httpStatus) ? 'transient' : 'permanent', code: `HTTP_${httpStatus}`, message, httpStatus };
  }
  if (typeof record.code === 'number') {
    return { kind: TRANSIENT_GRPC.has(record.code) ? 'transient' : 'permanent', code: `GRPC_${record.code}`, message };
  }
  if (TRANSIENT_NETWORK.test(message) || (typeof record.code === 'string' && TRANSIENT_NETWORK.test(record.code))) {
    return { kind: 'transient', code: typeof record.code === 'string' ? record.code : 'NETWORK', message };
  }
  return { kind: 'permanent', code: 'UNKNOWN', message };
}

/**
 * Google's JSON error body, as some clients put it whole into the message
 * (`{"error":{"code":400,"message":"…","status":"INVALID_ARGUMENT"}}`), said as
 * `INVALID_ARGUMENT: …`, so runs and dashboards show the reason, not the envelope.
 */
export function readableMessage(text: string): string {
  const start = text.indexOf('{"error"');
  if (start < 0) return text;
  try {
    const body = JSON.parse(text.slice(start)) as { error?: { message?: unknown; status?: unknown } };
    if (typeof body.error?.message !== 'string') return text;
    const prefix = text.slice(0, start).trim().replace(/[.:]$/, '');
    const reason = `${typeof body.error.status === 'string' ? `${body.error.status}: ` : ''}${body.error.message}`;
    return prefix ? `${prefix}: ${reason}` : reason;
  } catch {
    return text;
  }
}

/**
 * Delays before each retry: exponential from `baseMs`, capped, with full jitter (AWS's
 * "exponential backoff and jitter"), so many clients retrying at once spread out.
 */
export function backoffDelays(attempts: number, options: { baseMs?: number; capMs?: number; random?: () => number } = {}): number[] {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 20_000;
  const random = options.random ?? Math.random;
  return Array.from({ length: attempts }, (_, i) => Math.round(random() * Math.min(cap, base * 2 ** i)));
}

/** Runs `call`, retrying transient failures after each delay; the last error is rethrown. */
export async function withRetries<T>(
  call: () => Promise<T>,
  delays: number[],
  sleep: (ms: number) => Promise<void>,
  onRetry?: (info: ErrorInfo, attempt: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const info = classifyError(error);
      if (info.kind === 'permanent' || attempt >= delays.length) throw error;
      onRetry?.(info, attempt + 1);
      await sleep(delays[attempt]!);
    }
  }
}
