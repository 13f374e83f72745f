/**
 * What every chat route does around `startTurn`: who the caller is, the turn's Idempotency-Key,
 * a refusal or failure as a problem, and aborting the model call when the client goes away. The
 * one copy for the native route (routes.ts) and the protocol routes (chatbase-route,
 * openai-route, use-chat-route), so they stay thin and agree.
 */
import type { Context } from 'hono';
import { ApiError, badRequest } from '../../http/problem';
import type { AppBindings } from '../../http/types';
import { IDEMPOTENCY_KEY_PATTERN } from '../idempotency/service';
import { IDEMPOTENCY } from '../../limits';
import type { TurnCaller, TurnRefusal } from './turn';
import type { CollectedTurn, ErrorEvent } from './protocols/turn-events';
import { logBrokenTurn } from './protocols/turn-events';

export function turnCaller(c: Context<AppBindings>): TurnCaller {
  const actor = c.get('actor');
  return actor.kind === 'api_key' ? { kind: 'api_key', keyId: actor.keyId } : { kind: 'user', userId: actor.userId };
}

/** The request's Idempotency-Key (a retried turn reuses its stored user message), checked like everywhere else. */
export function turnRequestKey(c: Context<AppBindings>): string | undefined {
  const key = c.req.header('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw badRequest(`Idempotency-Key must be 1 to ${IDEMPOTENCY.maxKeyLength} printable ASCII characters.`, 'invalid_idempotency_key', [
      { path: 'header.idempotency-key', message: `1 to ${IDEMPOTENCY.maxKeyLength} printable ASCII characters` },
    ]);
  }
  return key;
}

export function refusalProblem(refusal: TurnRefusal): ApiError {
  return new ApiError({
    status: refusal.status,
    code: refusal.code,
    title: refusal.title,
    detail: refusal.detail,
    headers: refusal.retryAfterSeconds === undefined ? undefined : { 'retry-after': String(refusal.retryAfterSeconds) },
    extensions: refusal.extensions,
  });
}

/** The model failed (502/503/504, the user message is stored), or the turn broke (500, nothing internal on the wire). */
export function turnFailureProblem(error: ErrorEvent | null, conversationId: string | null, cause?: unknown): ApiError {
  if (!error) {
    logBrokenTurn('route', cause);
    return new ApiError({ status: 500, code: 'internal_error', title: 'Internal server error', detail: 'The answer could not be completed.' });
  }
  return new ApiError({
    status: error.status,
    code: error.code,
    title: error.title,
    detail: error.detail,
    extensions: { conversationId, messageId: error.message.id },
  });
}

export function failedTurnProblem(turn: Extract<CollectedTurn, { status: 'failed' }>): ApiError {
  return turnFailureProblem(turn.error, turn.conversationId, turn.cause);
}

/**
 * An AbortSignal for the turn: fires when the client disconnects (the request's signal) or when
 * the response stream is cancelled (`abort`).
 */
export function turnAbort(c: Context<AppBindings>): { signal: AbortSignal; abort: () => void } {
  const controller = new AbortController();
  const requestSignal = c.req.raw.signal as AbortSignal | undefined;
  if (requestSignal) {
    if (requestSignal.aborted) controller.abort();
    else requestSignal.addEventListener('abort', () => controller.abort(), { once: true });
  }
  return { signal: controller.signal, abort: () => controller.abort() };
}

/** Required when a request names a conversation (header or body): the two must agree. */
export function pickConversationId(fromBody: string | undefined, fromHeader: string | undefined): string | undefined {
  if (fromBody !== undefined && fromHeader !== undefined && fromBody !== fromHeader) {
    throw new ApiError({
      status: 422,
      code: 'conversation_id_mismatch',
      title: 'Conversation ids disagree',
      detail: 'The X-Conversation-Id header and the body name different conversations.',
    });
  }
  return fromBody ?? fromHeader;
}

/**
 * A streamed reply from a route whose OpenAPI entry also declares a JSON body: the typed-response
 * check cannot express "or a stream", so the raw Response passes as the handler's result.
 */
export const streamedReply = (response: Response): never => response as never;
