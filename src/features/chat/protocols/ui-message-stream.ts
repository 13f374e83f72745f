/**
 * The AI SDK's UI message stream protocol (v1, what `useChat` reads): Server-Sent Events whose
 * `data:` lines are JSON chunks, ended by `data: [DONE]`, with the `x-vercel-ai-ui-message-stream:
 * v1` header. Shapes follow `uiMessageChunkSchema` in the `ai` package (v6):
 *
 *   start {messageId, messageMetadata} → text-start → text-delta* → text-end
 *   → source-url | source-document (one per citation) → finish {finishReason, messageMetadata}
 *
 * A model failure is an `error` chunk then `finish` with finishReason `error`; a conversation a
 * person has taken over is `start` then `finish` with no text (metadata `paused: 'human'`).
 */
import type { Citation } from '../../../db/schema';
import type { TurnEvent } from '../turn';
import { logBrokenTurn } from './turn-events';

export const UI_MESSAGE_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-vercel-ai-ui-message-stream': 'v1',
  // Proxies (nginx) must pass each chunk on as it comes.
  'x-accel-buffering': 'no',
} as const;

/** The chunk types we send (a subset of the protocol's). */
export type UiChunk =
  | { type: 'start'; messageId?: string; messageMetadata?: Record<string, unknown> }
  | { type: 'text-start'; id: string }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'source-url'; sourceId: string; url: string; title?: string; providerMetadata?: CitationMetadata }
  | { type: 'source-document'; sourceId: string; mediaType: string; title: string; providerMetadata?: CitationMetadata }
  | { type: 'error'; errorText: string }
  | { type: 'finish'; finishReason: 'stop' | 'error' | 'other'; messageMetadata?: Record<string, unknown> };

type CitationMetadata = { kyrochat: { n: number; sourceId: string; documentId: string; chunkId: string; snippet: string; score: number } };

/** The one text part an answer has. */
const TEXT_PART_ID = 'answer';

/**
 * `sourceId` is the citation's number, so a client links the `[n]` markers in the text to the
 * source parts; our own ids travel in `providerMetadata.kyrochat`.
 */
export function citationChunk(citation: Citation): UiChunk {
  const providerMetadata: CitationMetadata = {
    kyrochat: {
      n: citation.n,
      sourceId: citation.sourceId,
      documentId: citation.documentId,
      chunkId: citation.chunkId,
      snippet: citation.snippet,
      score: citation.score,
    },
  };
  const title = citation.title || `Source ${citation.n}`;
  const sourceId = String(citation.n);
  return citation.url
    ? { type: 'source-url', sourceId, url: citation.url, title, providerMetadata }
    : { type: 'source-document', sourceId, mediaType: 'text/plain', title, providerMetadata };
}

/** Turn events → UI message chunks. Never throws: a broken turn ends as an `error` chunk. */
export async function* toUiChunks(events: AsyncIterable<TurnEvent>): AsyncGenerator<UiChunk> {
  let started = false;
  let textOpen = false;
  let textSent = false;
  let citationsSent = false;
  let conversationId: string | null = null;

  const start = (meta?: Extract<TurnEvent, { type: 'meta' }>): UiChunk[] => {
    if (started) return [];
    started = true;
    return [
      meta
        ? { type: 'start', messageId: meta.assistantMessageId, messageMetadata: { conversationId: meta.conversationId, userMessageId: meta.userMessageId } }
        : { type: 'start' },
    ];
  };
  const openText = (): UiChunk[] => {
    if (textOpen) return [];
    textOpen = textSent = true;
    return [{ type: 'text-start', id: TEXT_PART_ID }];
  };
  const closeText = (): UiChunk[] => {
    if (!textOpen) return [];
    textOpen = false;
    return [{ type: 'text-end', id: TEXT_PART_ID }];
  };

  try {
    for await (const event of events) {
      switch (event.type) {
        case 'meta':
          conversationId = event.conversationId;
          yield* start(event);
          break;
        case 'token':
          if (event.text === '') break;
          yield* start();
          yield* openText();
          yield { type: 'text-delta', id: TEXT_PART_ID, delta: event.text };
          break;
        case 'citations':
          yield* start();
          citationsSent = true;
          for (const citation of event.citations) yield citationChunk(citation);
          break;
        case 'done': {
          const message = event.message;
          yield* start();
          // An answer that arrived whole (no tokens) still becomes one text part.
          if (!textSent && message.content) {
            yield* openText();
            yield { type: 'text-delta', id: TEXT_PART_ID, delta: message.content };
          }
          yield* closeText();
          if (!citationsSent) for (const citation of message.citations) yield citationChunk(citation);
          yield {
            type: 'finish',
            finishReason: 'stop',
            messageMetadata: {
              conversationId: conversationId ?? message.conversationId,
              messageId: message.id,
              unanswered: message.unanswered,
              cached: message.cached,
              model: message.model,
              usage: message.usage,
              latencyMs: message.latencyMs,
            },
          };
          return;
        }
        case 'paused':
          yield* start();
          yield { type: 'finish', finishReason: 'other', messageMetadata: { conversationId, paused: event.reason } };
          return;
        case 'error':
          yield* start();
          yield* closeText();
          yield { type: 'error', errorText: event.detail };
          yield { type: 'finish', finishReason: 'error', messageMetadata: { conversationId, code: event.code, status: event.status } };
          return;
      }
    }
    throw new Error('turn ended without a final event');
  } catch (cause) {
    logBrokenTurn('ui-message-stream', cause);
    yield* start();
    yield* closeText();
    yield { type: 'error', errorText: 'The answer could not be completed.' };
    yield { type: 'finish', finishReason: 'error', messageMetadata: { conversationId, code: 'internal_error' } };
  }
}

/** Encodes chunks as the protocol's SSE body. `onCancel` runs when the client goes away. */
export function uiMessageSseStream(events: AsyncIterable<TurnEvent>, onCancel?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const chunks = toUiChunks(events);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const step = await chunks.next();
      if (step.done) {
        controller.enqueue(encoder.encode('data: [DONE]\n\n'));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`data: ${JSON.stringify(step.value)}\n\n`));
    },
    async cancel() {
      onCancel?.();
      await chunks.return(undefined);
    },
  });
}

export function uiMessageStreamResponse(events: AsyncIterable<TurnEvent>, init: { headers?: Record<string, string>; onCancel?: () => void } = {}): Response {
  return new Response(uiMessageSseStream(events, init.onCancel), { status: 200, headers: { ...UI_MESSAGE_STREAM_HEADERS, ...init.headers } });
}
