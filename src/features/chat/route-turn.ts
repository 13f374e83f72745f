/**
 * What every chat route does around `startTurn`: who the caller is, the turn's Idempotency-Key,
 * a refusal or failure as a problem, and a client that goes away (`clientTurn`). The
 * one copy for the native route (routes.ts) and the protocol routes (chatbase-route,
 * openai-route, use-chat-route), so they stay thin and agree.
 */
import type { Context } from 'hono';
import { ApiError, badRequest } from '../../http/problem';
import type { AppBindings } from '../../http/types';
import { IDEMPOTENCY_KEY_PATTERN } from '../idempotency/service';
import { IDEMPOTENCY } from '../../limits';
import type { TurnCaller, TurnEvent, TurnRefusal } from './turn';
import { detachTurn, logBrokenTurn, turnFailureIds, type FailedTurn } from './protocols/turn-events';

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

/**
 * The one problem for a failed turn on every channel. The model failed: 502/503/504 with the
 * turn's code; the turn broke: 500 with nothing internal on the wire. Either way the extensions
 * are `turnFailureIds` (conversationId, userMessageId, assistantMessageId, message), so a client
 * finds the stored messages and retries the same turn whichever route it called.
 */
export function turnFailureProblem(turn: FailedTurn): ApiError {
  const extensions = { ...turnFailureIds(turn) };
  if (!turn.error) {
    logBrokenTurn('route', turn.cause);
    return new ApiError({ status: 500, code: 'internal_error', title: 'Internal server error', detail: 'The answer could not be completed.', extensions });
  }
  return new ApiError({ status: turn.error.status, code: turn.error.code, title: turn.error.title, detail: turn.error.detail, extensions });
}

export interface ClientTurn {
  /** Fires when the client goes away; pass it to `startTurn`. */
  signal: AbortSignal;
  /** For a response stream that finds its reader gone (cancelled, or a write failed). */
  abort: () => void;
  /** The turn's events, run to their last one even when nobody reads them any more. */
  events: (events: AsyncIterable<TurnEvent>) => AsyncIterable<TurnEvent>;
}

/**
 * The one mechanism every chat route uses for a client that goes away, streaming or not:
 * - `signal` fires when the client disconnects (the request's signal, with the
 *   `enable_request_signal` compatibility flag) or when `abort` is called (a response stream
 *   cancelled, a write to it failed); the pipeline then stops the model call;
 * - `events` runs the turn to its end under `waitUntil` (detachTurn), so the pipeline gets to
 *   store the partial answer marked `aborted` even though the request is gone.
 * A retry with the same Idempotency-Key then answers again.
 */
export function clientTurn(c: Context<AppBindings>): ClientTurn {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const requestSignal = c.req.raw.signal as AbortSignal | undefined;
  if (requestSignal) {
    if (requestSignal.aborted) abort();
    else requestSignal.addEventListener('abort', abort, { once: true });
  }
  const waitUntil = (promise: Promise<unknown>) => {
    try {
      c.executionCtx.waitUntil(promise);
    } catch {
      // No execution context (unit use): the pump runs detached.
    }
  };
  return { signal: controller.signal, abort, events: (events) => detachTurn(events, waitUntil) };
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
