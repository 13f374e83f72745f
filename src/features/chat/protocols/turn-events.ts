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

export type CollectedTurn =
  | { status: 'answered'; conversationId: string | null; text: string; citations: Citation[]; message: MessageDto }
  | { status: 'paused'; conversationId: string | null }
  | { status: 'failed'; conversationId: string | null; error: ErrorEvent | null; cause?: unknown };

/**
 * The whole turn, for replies that are not streamed. The answer text is the stored message's
 * content (what the pipeline kept), falling back to the streamed tokens.
 */
export async function collectTurn(events: AsyncIterable<TurnEvent>): Promise<CollectedTurn> {
  let conversationId: string | null = null;
  let streamed = '';
  let citations: Citation[] = [];
  try {
    for await (const event of events) {
      switch (event.type) {
        case 'meta':
          conversationId = event.conversationId;
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
            text: event.message.content || streamed,
            citations: event.message.citations.length > 0 ? event.message.citations : citations,
            message: event.message,
          };
        case 'paused':
          return { status: 'paused', conversationId };
        case 'error':
          return { status: 'failed', conversationId, error: event };
      }
    }
  } catch (cause) {
    return { status: 'failed', conversationId, error: null, cause };
  }
  // The pipeline always ends with done, paused or error; anything else is a broken turn.
  return { status: 'failed', conversationId, error: null, cause: new Error('turn ended without a final event') };
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
