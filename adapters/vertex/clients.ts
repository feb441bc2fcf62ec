import { OAuth2Client } from 'google-auth-library';

/**
 * Options for the @google-cloud/aiplatform clients. They use the REST transport (`fallback`)
 * everywhere, so the transport tested against the Vertex AI simulator is the one production
 * uses; against the simulator they get its URL and a static token (no metadata server).
 */
export function aiplatformClientOptions(location: string, baseUrl?: string): Record<string, unknown> {
  if (!baseUrl) return { apiEndpoint: `${location}-aiplatform.googleapis.com`, fallback: true };
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'vertex-simulator', expiry_date: Date.now() + 365 * 24 * 3600 * 1000 });
  const { hostname, port, protocol } = new URL(baseUrl);
  // `protocol` and `port` are read by google-gax's REST transport though absent from its typed options.
  return { apiEndpoint: hostname, port: Number(port), protocol: protocol.replace(':', ''), fallback: true, authClient };
}
