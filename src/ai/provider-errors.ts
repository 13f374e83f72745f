/**
 * What went wrong in a call to an OpenAI-compatible provider through the `openai` SDK and the
 * egress guard, for both adapters (openai-chat-model.ts, openai-embedder.ts): the reason their
 * errors carry, whether the retry policy may try again, the status and the Retry-After the
 * provider sent. The adapters check their own abort signals first (only they know which deadline
 * fired) and differ only in what `ProviderErrorProfile` names.
 */
import OpenAI from 'openai';
import { EgressError } from '../egress';
import { retryAfterFromHeaders } from './retry';

/** The reasons both ports share (ChatFailureReason and EmbeddingFailureReason include them all). */
export type ProviderFailureReason =
  | 'rate_limited'
  | 'unauthorized'
  | 'bad_request'
  | 'server_error'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'invalid_response'
  | 'egress_refused';

export interface ProviderFailure {
  reason: ProviderFailureReason;
  retryable: boolean;
  /** For logs: it may quote the provider, so it never reaches the wire. */
  message: string;
  status?: number;
  retryAfterMs?: number;
}

export interface ProviderErrorProfile {
  /** How log messages name the endpoint and the call: 'chat endpoint' / 'chat request'. */
  endpoint: string;
  call: string;
  /**
   * A request that ran out of time on our side (the SDK's or the egress guard's deadline). A
   * queued embedding job retries it; a chat turn does not: the next model in the fallback list is
   * a better use of the visitor's patience.
   */
  retryOwnTimeout: boolean;
  /** 409 Conflict: a transient conflict worth retrying for embeddings; a refused request for chat. */
  retryConflict: boolean;
  /**
   * The response is a stream: an error event inside it (an APIError without a status) is the
   * provider failing, and a stream that breaks is a network failure; both are retried.
   */
  streamed: boolean;
}

export function classifyProviderError(error: unknown, profile: ProviderErrorProfile, nowMs: number): ProviderFailure {
  const { endpoint, call } = profile;
  // The SDK wraps a failed fetch in APIConnectionError; a too-large body fails while it reads.
  const egress = error instanceof EgressError ? error : error instanceof Error && error.cause instanceof EgressError ? error.cause : null;
  if (egress) {
    if (egress.code === 'egress_refused' || egress.code === 'egress_redirect_refused') {
      return { reason: 'egress_refused', retryable: false, message: `${endpoint} not allowed: ${egress.message}` };
    }
    if (egress.code === 'egress_timeout') return { reason: 'timeout', retryable: profile.retryOwnTimeout, message: `${call} timed out` };
    // Too many redirects, a response over the size cap.
    return { reason: 'invalid_response', retryable: false, message: `${endpoint} misbehaved: ${egress.message}` };
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) return { reason: 'timeout', retryable: profile.retryOwnTimeout, message: `${call} timed out` };
  if (error instanceof OpenAI.APIUserAbortError) return { reason: 'aborted', retryable: false, message: `${call} was aborted` };
  if (error instanceof OpenAI.APIConnectionError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return { reason: 'network', retryable: true, message: `could not reach the ${endpoint}${cause}` };
  }
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    const status = error.status;
    const message = `${endpoint} answered ${status}: ${error.message}`;
    const retryAfterMs = retryAfterFromHeaders(error.headers, nowMs);
    if (status === 429) {
      // OpenAI sends 429 for an exhausted quota too; waiting does not fix that one.
      if (error.code === 'insufficient_quota') return { reason: 'rate_limited', retryable: false, status, message };
      return { reason: 'rate_limited', retryable: true, status, message, retryAfterMs };
    }
    if (status === 401 || status === 403) return { reason: 'unauthorized', retryable: false, status, message };
    if (status === 408) return { reason: 'timeout', retryable: true, status, message, retryAfterMs };
    if (status >= 500 || (status === 409 && profile.retryConflict)) return { reason: 'server_error', retryable: true, status, message, retryAfterMs };
    return { reason: 'bad_request', retryable: false, status, message };
  }
  if (profile.streamed) {
    if (error instanceof OpenAI.APIError) return { reason: 'server_error', retryable: true, message: `${endpoint} reported: ${error.message}` };
    if (error instanceof TypeError || (error instanceof Error && /network|connection|stream/i.test(error.message))) {
      return { reason: 'network', retryable: true, message: `${call} stream broke: ${error.message}` };
    }
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { reason: 'invalid_response', retryable: false, message: `unexpected failure of the ${call}: ${message}` };
}
