/**
 * Problems for the outside world failing us or being refused, so that none of them is a
 * generic 500:
 * - 422 `egress_refused`: a URL the tenant gave may not be fetched (egress policy).
 * - 502 `embedding_provider_failed`: the org's embedding provider failed or refused
 *   (`reason` says how: unauthorized, timeout, server_error, egress_refused, ...).
 * - 503 `embedding_provider_rate_limited`: the provider asked us to slow down (Retry-After).
 * - 503 `vector_index_unavailable`: the vector index could not be reached; try again later.
 * - 503 `secret_undecryptable`: a stored provider secret does not open with the configured
 *   keys (a key was rotated away); our side, not the provider's, hence 503 and not 502.
 */
import { checkUrl, type EgressPolicy } from '../egress';
import { EmbeddingError } from '../ai/embedder';
import { VectorIndexUnavailableError } from '../vector/vector-index';
import { SecretUndecryptableError } from '../lib/secrets';
import { ApiError } from './problem';
import { ProblemSchema } from './router';

/** OpenAPI entries for routes that can answer these problems. */
const problemContent = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } }) as const;
export const egressRefusedResponse = { 422: problemContent('A URL is not allowed by the egress policy') } as const;
export const upstreamErrorResponses = {
  502: problemContent('The embedding provider failed'),
  503: problemContent('The vector index or a stored secret is unavailable, or the provider is rate limiting'),
} as const;

/** Throws a 422 naming the field when the egress policy refuses `url`. */
export function requireEgressAllowed(policy: EgressPolicy, url: string, field: string): void {
  const check = checkUrl(url, policy);
  if (check.ok) return;
  throw new ApiError({
    status: 422,
    code: 'egress_refused',
    title: 'URL not allowed',
    detail: check.refusal.reason,
    errors: [{ path: field, message: check.refusal.reason, code: check.refusal.code }],
  });
}

const EMBEDDING_DETAIL: Record<string, string> = {
  unauthorized: 'The embedding provider rejected the API key in settings.',
  egress_refused: 'The embedding provider URL in settings is not allowed.',
  timeout: 'The embedding provider did not answer in time.',
  network: 'The embedding provider could not be reached.',
  server_error: 'The embedding provider failed.',
  invalid_response: 'The embedding provider sent an invalid response.',
  bad_request: 'The embedding provider refused the request; check the model and dimensions in settings.',
};

/** The problem for an expected upstream failure, or null for anything else. */
export function upstreamProblem(err: unknown): ApiError | null {
  if (err instanceof EmbeddingError) {
    if (err.reason === 'rate_limited') {
      const retryAfter: Record<string, string> = err.retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) };
      return new ApiError({
        status: 503,
        code: 'embedding_provider_rate_limited',
        title: 'Embedding provider busy',
        detail: 'The embedding provider is rate limiting this organization; try again later.',
        headers: retryAfter,
        extensions: { reason: err.reason },
        internal: err.message,
      });
    }
    return new ApiError({
      status: 502,
      code: 'embedding_provider_failed',
      title: 'Embedding provider failed',
      detail: EMBEDDING_DETAIL[err.reason] ?? 'The embedding provider failed.',
      extensions: { reason: err.reason },
      internal: err.message,
    });
  }
  if (err instanceof VectorIndexUnavailableError) {
    return new ApiError({
      status: 503,
      code: 'vector_index_unavailable',
      title: 'Vector index unavailable',
      detail: 'The vector index could not be reached; try again shortly.',
      headers: { 'retry-after': '5' },
      internal: err.message,
    });
  }
  if (err instanceof SecretUndecryptableError) {
    return new ApiError({
      status: 503,
      code: 'secret_undecryptable',
      title: 'Stored secret unavailable',
      detail: `The stored secret "${err.secretName}" cannot be decrypted with the configured keys. An owner can enter it again in settings.`,
      internal: err.message,
    });
  }
  return null;
}
