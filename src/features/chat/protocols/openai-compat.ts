/**
 * OpenAI's chat completions wire format (https://platform.openai.com/docs/api-reference/chat):
 * a `chat.completion` object, or `chat.completion.chunk` Server-Sent Events ended by
 * `data: [DONE]`. Extra fields clients ignore: `conversation_id` (continue with it) and
 * `citations` (on the message, or on the chunk that finishes the stream).
 *
 * With `stream_options.include_usage`, every chunk carries `usage: null` and one more chunk with
 * no choices carries the usage, as OpenAI does. A failure after the stream started is one
 * `data: {"error": …}` event and no `[DONE]`; the `openai` SDK throws an APIError on it.
 */
import type { Citation, TokenUsage } from '../../../db/schema';
import type { TurnEvent } from '../turn';
import type { CollectedTurn } from './turn-events';
import { logBrokenTurn, ZERO_USAGE } from './turn-events';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

export interface CompletionOptions {
  /** The bot id, echoed as `model`. */
  model: string;
  /** Unix seconds. */
  created: number;
  includeUsage?: boolean;
}

export function openAiUsage(usage: TokenUsage | null): OpenAiUsage {
  const u = usage ?? ZERO_USAGE;
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.totalTokens };
}

/** OpenAI's error `type` for a status: clients branch on the status; `code` is our stable problem code. */
export function openAiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAiError(status: number, message: string, code: string | null, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: openAiErrorType(status), code, param } };
}

const completionId = (assistantMessageId: string | undefined) => `chatcmpl-${assistantMessageId ?? crypto.randomUUID()}`;

/** The non-streamed `chat.completion` for an answered or paused turn. */
export function chatCompletion(turn: Exclude<CollectedTurn, { status: 'failed' }>, options: CompletionOptions) {
  const answered = turn.status === 'answered';
  return {
    id: completionId(answered ? turn.message.id : undefined),
    object: 'chat.completion' as const,
    created: options.created,
    model: options.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: answered ? turn.text : '',
          refusal: null,
          citations: answered ? turn.citations : [],
        },
        logprobs: null,
        finish_reason: 'stop' as const,
      },
    ],
    usage: openAiUsage(answered ? turn.message.usage : null),
    conversation_id: turn.conversationId,
    unanswered: answered ? turn.message.unanswered : false,
    ...(turn.status === 'paused' ? { paused: 'human' } : {}),
  };
}

/** Turn events → `chat.completion.chunk` SSE bytes. */
export function chatCompletionSseStream(events: AsyncIterable<TurnEvent>, options: CompletionOptions, onCancel?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const lines = completionEvents(events, options);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const step = await lines.next();
      if (step.done) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`data: ${step.value}\n\n`));
    },
    async cancel() {
      onCancel?.();
      await lines.return(undefined);
    },
  });
}

/** The `data:` payloads of the stream, `[DONE]` included (never thrown: a broken turn is an error event). */
export async function* completionEvents(events: AsyncIterable<TurnEvent>, options: CompletionOptions): AsyncGenerator<string> {
  let id = completionId(undefined);
  let conversationId: string | null = null;
  let citations: Citation[] = [];
  let roleSent = false;
  const usageField = options.includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finishReason: 'stop' | null, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created: options.created,
      model: options.model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...usageField,
      ...extra,
    });
  // OpenAI's first chunk names the role with empty content; the conversation id rides along.
  const roleChunk = () => {
    if (roleSent) return [];
    roleSent = true;
    return [chunk({ role: 'assistant', content: '' }, null, { conversation_id: conversationId })];
  };
  const finish = (usage: TokenUsage | null, extra: Record<string, unknown>) => {
    const out = [...roleChunk(), chunk({}, 'stop', { conversation_id: conversationId, citations, ...extra })];
    if (options.includeUsage) {
      out.push(
        JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created: options.created,
          model: options.model,
          system_fingerprint: null,
          choices: [],
          usage: openAiUsage(usage),
        }),
      );
    }
    out.push('[DONE]');
    return out;
  };
  const failure = (status: number, message: string, code: string) => JSON.stringify(openAiError(status, message, code));

  let textSent = false;
  try {
    for await (const event of events) {
      switch (event.type) {
        case 'meta':
          id = completionId(event.assistantMessageId);
          conversationId = event.conversationId;
          yield* roleChunk();
          break;
        case 'token':
          if (!event.text) break;
          yield* roleChunk();
          textSent = true;
          yield chunk({ content: event.text }, null);
          break;
        case 'citations':
          citations = event.citations;
          break;
        case 'done':
          yield* roleChunk();
          if (!textSent && event.message.content) yield chunk({ content: event.message.content }, null);
          if (event.message.citations.length > 0) citations = event.message.citations;
          yield* finish(event.message.usage, { unanswered: event.message.unanswered });
          return;
        case 'paused':
          yield* finish(null, { paused: event.reason });
          return;
        case 'error':
          yield failure(event.status, event.detail, event.code);
          return;
      }
    }
    throw new Error('turn ended without a final event');
  } catch (cause) {
    logBrokenTurn('openai', cause);
    yield failure(500, 'The answer could not be completed.', 'internal_error');
  }
}

export const OPENAI_STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } as const;
