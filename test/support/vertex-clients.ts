import { GoogleGenAI } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';

/**
 * An unmodified @google/genai client in Vertex mode, pointed at the Vertex AI simulator: the
 * base URL is the simulator's and the credentials are a static token (no metadata server, no
 * key file), exactly as the pipeline's adapter configures it when VERTEX_BASE_URL is set.
 */
export function genaiForSimulator(url: string, project = 'sim-project', location = 'us-central1'): GoogleGenAI {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'simulator-token', expiry_date: Date.now() + 24 * 3600 * 1000 });
  return new GoogleGenAI({ vertexai: true, project, location, httpOptions: { baseUrl: url }, googleAuthOptions: { authClient } });
}

/**
 * The unmodified @google-cloud/aiplatform GenAiTuningServiceClient on its REST transport
 * (`fallback: true`), pointed at the simulator over plain http with a static token.
 */
export async function tuningServiceForSimulator(url: string) {
  const { default: aiplatform } = await import('@google-cloud/aiplatform');
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'simulator-token', expiry_date: Date.now() + 24 * 3600 * 1000 });
  const { hostname, port } = new URL(url);
  // `protocol` and `port` are accepted by google-gax's REST fallback though absent from the typed
  // options; the auth client is from google-auth-library 10 while gax types name 11's, hence unknown.
  const options: unknown = { apiEndpoint: hostname, port: Number(port), protocol: 'http', fallback: true, authClient };
  return new aiplatform.v1beta1.GenAiTuningServiceClient(
    options as ConstructorParameters<typeof aiplatform.v1beta1.GenAiTuningServiceClient>[0],
  );
}
