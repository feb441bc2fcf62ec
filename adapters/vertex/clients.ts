import { GoogleGenAI } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';
import { backoffDelays, withRetries } from '../../shared/errors/classify.ts';
import type { ErrorInfo } from '../../shared/runs/schema.ts';

export interface VertexClientOptions {
  project: string;
  /** The default region: where new jobs go unless a call names another, and where base models are called. */
  location: string;
  /** The Vertex AI simulator's URL; unset in production, where the real endpoint and ADC are used. */
  baseUrl?: string | undefined;
  /** Transient errors are retried this many times inside a call, with backoff, before it fails. */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (info: ErrorInfo, attempt: number) => void;
}

/**
 * Against the simulator every region shares one URL, so a client says which regional endpoint
 * (`{location}-aiplatform.googleapis.com`) it stands for in this header; the simulator refuses a
 * call about a resource of another region, as Vertex does. Never sent to Google.
 */
export const SIMULATOR_ENDPOINT_HEADER = 'x-vertex-simulator-endpoint-location';

function simulatorAuth(): OAuth2Client {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'vertex-simulator', expiry_date: Date.now() + 365 * 24 * 3600 * 1000 });
  return authClient;
}

/**
 * How an adapter's calls are retried: transient errors with backoff, `options.retries` times
 * (else `defaultRetries`), sleeping with `options.sleep`, reporting each retry to `options.onRetry`.
 * `delays` shapes the backoff (a quota-bound call waits longer between tries).
 */
export function vertexRetry(
  options: VertexClientOptions,
  defaultRetries: number,
  delays?: { baseMs: number; capMs: number },
): <T>(call: () => Promise<T>) => Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return (call) => withRetries(call, backoffDelays(options.retries ?? defaultRetries, delays), sleep, options.onRetry);
}

/** The genai client in Vertex mode for one region: ADC in production, a static token against the simulator. */
export function createGenAiClient(options: VertexClientOptions, location = options.location): GoogleGenAI {
  if (!options.baseUrl) return new GoogleGenAI({ vertexai: true, project: options.project, location });
  return new GoogleGenAI({
    vertexai: true,
    project: options.project,
    location,
    httpOptions: { baseUrl: options.baseUrl, headers: { [SIMULATOR_ENDPOINT_HEADER]: location } },
    googleAuthOptions: { authClient: simulatorAuth() },
  });
}

/** Clients made on first use for each region (`defaultRegion` when none is named), then reused. */
export function perRegion<T>(defaultRegion: string, make: (location: string) => T): (location?: string | null) => T {
  const clients = new Map<string, T>();
  return (location) => {
    const region = location ?? defaultRegion;
    let client = clients.get(region);
    if (client === undefined) clients.set(region, (client = make(region)));
    return client;
  };
}

/** One genai client per region: a call about a resource goes to the endpoint of the region in its name. */
export function regionalGenAiClients(options: VertexClientOptions): (location?: string | null) => GoogleGenAI {
  return perRegion(options.location, (location) => createGenAiClient(options, location));
}

/**
 * Options for the @google-cloud/aiplatform clients. They use the REST transport (`fallback`)
 * everywhere, so the transport tested against the Vertex AI simulator is the one production
 * uses; against the simulator they get its URL and a static token (no metadata server).
 */
export function aiplatformClientOptions(location: string, baseUrl?: string): Record<string, unknown> {
  if (!baseUrl) return { apiEndpoint: `${location}-aiplatform.googleapis.com`, fallback: true };
  const { hostname, port, protocol } = new URL(baseUrl);
  // `protocol` and `port` are read by google-gax's REST transport though absent from its typed options.
  return { apiEndpoint: hostname, port: Number(port), protocol: protocol.replace(':', ''), fallback: true, authClient: simulatorAuth() };
}

/** Per-call options for an aiplatform client of `location`: against the simulator, the endpoint header. */
export function aiplatformCallOptions(location: string, baseUrl?: string): { otherArgs?: { headers: Record<string, string> } } {
  return baseUrl ? { otherArgs: { headers: { [SIMULATOR_ENDPOINT_HEADER]: location } } } : {};
}
