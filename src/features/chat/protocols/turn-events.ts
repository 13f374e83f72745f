/**
 * What every protocol translator needs from a turn's event stream (src/features/chat/turn.ts):
 * a look at how it starts before a status line is committed, and the whole answer collected for
 * the non-streaming replies. Pure: no Hono, no storage.
 */
import type { Citation, TokenUsage } from '../../../db/schema';
import type { MessageDto, TurnEvent } from '../turn';

export type MetaEvent = Extract<TurnEvent, { type: 'meta' }>;
export type ErrorEvent = Extract<TurnEvent, { type: 'error' }>;

export interface PeekedTurn {
  meta: MetaEvent | null;
  /** The first event after `meta` (null when the stream ended, or threw, before one). */
  first: TurnEvent | null;
  /** Every event, `meta` and `first` included, as if nothing had been read. */
  events: AsyncIterable<TurnEvent>;
}

/**
 * Reads up to the first event after `meta`. Channels call this before choosing a status: a model
 * that fails before its first token becomes a real 502 (which HTTP clients such as the `openai`
 * SDK turn into an error), instead of a 200 whose body reports the failure.
 */
export async function peekTurn(source: AsyncIterable<TurnEvent>): Promise<PeekedTurn> {
  const iterator = source[Symbol.asyncIterator]();
  const head: TurnEvent[] = [];
  let failure: { error: unknown } | null = null;
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) break;
      head.push(step.value);
      if (step.value.type !== 'meta') break;
    }
  } catch (error) {
    // Replayed below at the same point, so the translator that reads on sees the failure.
    failure = { error };
  }
  const meta = head[0]?.type === 'meta' ? head[0] : null;
  const first = head.find((e) => e.type !== 'meta') ?? null;
  async function* replay(): AsyncGenerator<TurnEvent> {
    try {
      yield* head;
      if (failure) throw failure.error;
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield step.value;
      }
    } finally {
      // A reader that stops early (client gone) lets the pipeline clean up.
      await iterator.return?.();
    }
  }
  return { meta, first, events: { [Symbol.asyncIterator]: replay } };
}

/**
 * Runs a turn to its end whoever reads it: a pump (kept alive by `waitUntil`) reads the pipeline's
 * events into a queue the returned iterable hands out. A reader that stops early (the client went
 * away, a protocol stream was cancelled) just stops reading; the pipeline goes on to its last
 * event, which is where it stores the answer (the partial one, marked `aborted`, once the turn's
 * signal has fired). Without this, a cancelled reader would close the pipeline's generator at a
 * `yield` and nothing after it would run. Events queue only while someone reads, so the buffer is
 * at most one answer (CHAT.maxAnswerChars).
 */
export function detachTurn(events: AsyncIterable<TurnEvent>, waitUntil: (promise: Promise<unknown>) => void): AsyncIterable<TurnEvent> {
  const queue: TurnEvent[] = [];
  let ended = false;
  let failure: { error: unknown } | null = null;
  let readerGone = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const pump = (async () => {
    try {
      for await (const event of events) {
        if (!readerGone) queue.push(event);
        notify();
      }
    } catch (error) {
      failure = { error };
      if (readerGone) logBrokenTurn('detached', error);
    } finally {
      ended = true;
      notify();
    }
  })();
  waitUntil(pump);
  async function* read(): AsyncGenerator<TurnEvent> {
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (failure) throw failure.error;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      readerGone = true;
      queue.length = 0;
    }
  }
  return { [Symbol.asyncIterator]: read };
}

export type CollectedTurn =
  | { status: 'answered'; conversationId: string | null; userMessageId: string | null; text: string; citations: Citation[]; message: MessageDto; handoff?: Extract<TurnEvent, { type: 'done' }>['handoff'] }
  | {
      status: 'paused';
      conversationId: string | null;
      userMessageId: string | null;
      reason: Extract<TurnEvent, { type: 'paused' }>['reason'];
      /** The action waiting for approval, when the reason is `confirmation`. */
      confirmation?: Omit<Extract<TurnEvent, { type: 'confirmation' }>, 'type'>;
    }
  | FailedTurn;

/** A turn that ended in an `error` event (the model failed), or broke without one (`error` null, a bug). */
export interface FailedTurn {
  status: 'failed';
  conversationId: string | null;
  /** The stored user message, when the turn got as far as `meta`. */
  userMessageId: string | null;
  error: ErrorEvent | null;
  cause?: unknown;
}

/**
 * The whole turn, for replies that are not streamed. The answer text is the stored message's
 * content (what the pipeline kept), falling back to the streamed tokens.
 */
export async function collectTurn(events: AsyncIterable<TurnEvent>): Promise<CollectedTurn> {
  let conversationId: string | null = null;
  let userMessageId: string | null = null;
  let streamed = '';
  let citations: Citation[] = [];
  let confirmation: Omit<Extract<TurnEvent, { type: 'confirmation' }>, 'type'> | undefined;
  try {
    for await (const event of events) {
      switch (event.type) {
        case 'confirmation': {
          const { type: _type, ...rest } = event;
          confirmation = rest;
          break;
        }
        case 'meta':
          conversationId = event.conversationId;
          userMessageId = event.userMessageId;
          break;
        case 'token':
          streamed += event.text;
          break;
        case 'citations':
          citations = event.citations;
          break;
        case 'done':
          return {
            status: 'answered',
            conversationId: conversationId ?? event.message.conversationId,
            userMessageId,
            text: event.message.content || streamed,
            citations: event.message.citations.length > 0 ? event.message.citations : citations,
            message: event.message,
            ...(event.handoff ? { handoff: event.handoff } : {}),
          };
        case 'paused':
          return { status: 'paused', conversationId, userMessageId, reason: event.reason, ...(confirmation ? { confirmation } : {}) };
        case 'error':
          return { status: 'failed', conversationId, userMessageId, error: event };
      }
    }
  } catch (cause) {
    return { status: 'failed', conversationId, userMessageId, error: null, cause };
  }
  // The pipeline always ends with done, paused or error; anything else is a broken turn.
  return { status: 'failed', conversationId, userMessageId, error: null, cause: new Error('turn ended without a final event') };
}

/**
 * The failure of a turn that failed before its first token (channels then answer a real error
 * status instead of starting a 200 stream), or null when it did not.
 */
export function failedBeforeStreaming(peeked: PeekedTurn, conversationId: string): FailedTurn | null {
  if (peeked.first?.type !== 'error') return null;
  return { status: 'failed', conversationId, userMessageId: peeked.meta?.userMessageId ?? null, error: peeked.first };
}

/**
 * The ids every channel reports with a failed turn (problem+json extensions, the native SSE
 * `error` event, extra fields of OpenAI-shaped errors): the conversation, the stored user message
 * (retry with the same Idempotency-Key to reuse it) and the stored errored assistant message
 * (`message`, with its `error`). Null where the turn broke before storing one.
 */
export interface TurnFailureIds {
  conversationId: string | null;
  userMessageId: string | null;
  assistantMessageId: string | null;
  message: MessageDto | null;
}

export function turnFailureIds(turn: FailedTurn): TurnFailureIds {
  const message = turn.error?.message ?? null;
  return {
    conversationId: turn.conversationId ?? message?.conversationId ?? null,
    userMessageId: turn.userMessageId,
    assistantMessageId: message?.id ?? null,
    message,
  };
}

/** Logs a turn that broke without an `error` event (a bug, never a model failure): the wire only says it failed. */
export function logBrokenTurn(channel: string, cause: unknown): void {
  console.error(
    JSON.stringify({
      level: 'error',
      msg: 'chat turn stream broke',
      channel,
      error: cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause),
    }),
  );
}

export const ZERO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
