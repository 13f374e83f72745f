/**
 * The chat protocol channels: the AI SDK UI message stream, the Chatbase shape and the
 * OpenAI-compatible API. First each translator on hand-made turn event sequences (a full answer,
 * a failure mid-stream, a paused conversation, a broken pipeline), read back by the real client
 * libraries (`ai`, `openai`); then each surface through the real Worker.
 */
import { describe, expect, it } from 'vitest';
import { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema, type UIMessage, type UIMessageChunk } from 'ai';
import type { Citation } from '../../src/db/schema';
import type { MessageDto, TurnEvent } from '../../src/features/chat/turn';
import { uiMessageStreamResponse } from '../../src/features/chat/protocols/ui-message-stream';
import { chatbaseReply, chatbaseTextStream } from '../../src/features/chat/protocols/chatbase';
import { chatCompletion, chatCompletionSseStream } from '../../src/features/chat/protocols/openai-compat';
import { collectTurn, peekTurn } from '../../src/features/chat/protocols/turn-events';

// --- hand-made turns ---------------------------------------------------------------------------

const CONVERSATION = 'conv_01TEST';
const CITATIONS: Citation[] = [
  { n: 1, sourceId: 'src_web', documentId: 'doc_1', chunkId: 'chk_1', title: 'Refund policy', url: 'https://docs.example.com/refunds', snippet: 'Refunds within 30 days.', score: 0.82 },
  { n: 2, sourceId: 'src_txt', documentId: 'doc_2', chunkId: 'chk_2', title: 'Notes', url: null, snippet: 'Keep the receipt.', score: 0.61 },
];

function message(overrides: Partial<MessageDto> = {}): MessageDto {
  return {
    id: 'msg_ASSISTANT',
    conversationId: CONVERSATION,
    role: 'assistant',
    content: 'Refunds are possible within 30 days [1]. Keep the receipt [2].',
    citations: CITATIONS,
    unanswered: false,
    usage: { promptTokens: 120, completionTokens: 14, totalTokens: 134 },
    latencyMs: 42,
    model: 'offline:extractive',
    cached: false,
    error: null,
    attachments: [],
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

const META: TurnEvent = { type: 'meta', conversationId: CONVERSATION, userMessageId: 'msg_USER', assistantMessageId: 'msg_ASSISTANT', created: true };
const tokens = (...texts: string[]): TurnEvent[] => texts.map((text) => ({ type: 'token', text }));

const answered = (): TurnEvent[] => [
  META,
  ...tokens('Refunds are possible ', 'within 30 days [1]. ', 'Keep the receipt [2].'),
  { type: 'citations', citations: CITATIONS },
  { type: 'done', message: message() },
];
const failedMidStream = (): TurnEvent[] => [
  META,
  ...tokens('Refunds are '),
  { type: 'error', status: 502, code: 'model_failed', title: 'Model failed', detail: 'The model stopped answering.', message: message({ content: 'Refunds are ', error: { code: 'model_failed', detail: 'x' } }) },
];
const paused = (): TurnEvent[] => [META, { type: 'paused', reason: 'human' }];

async function* play(events: TurnEvent[], thenThrow?: Error): AsyncGenerator<TurnEvent> {
  for (const event of events) yield event;
  if (thenThrow) throw thenThrow;
}

// --- reading back with the client libraries ------------------------------------------------------

/** Parses the SSE body with the `ai` package's own schema (any malformed chunk fails) and builds the UIMessage as `useChat` would. */
async function readWithAiSdk(body: ReadableStream<Uint8Array>) {
  const [forRaw, forSdk] = body.tee();
  const raw = await new Response(forRaw).text();
  const chunks: UIMessageChunk[] = [];
  const parsed = parseJsonEventStream({ stream: forSdk, schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (!result.success) throw result.error;
        chunks.push(result.value as UIMessageChunk);
        controller.enqueue(result.value as UIMessageChunk);
      },
    }),
  );
  const errors: string[] = [];
  let last: UIMessage | undefined;
  for await (const snapshot of readUIMessageStream({ stream: parsed, onError: (e) => errors.push(e instanceof Error ? e.message : String(e)) })) {
    last = snapshot;
  }
  return { raw, chunks, errors, message: last };
}

const textOf = (m: UIMessage | undefined) => (m?.parts ?? []).filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');

async function sseDataLines(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const text = await new Response(body).text();
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      return block.slice('data: '.length);
    });
}

describe('turn events', () => {
  it('peekTurn reads up to the first event after meta and replays every event', async () => {
    const peeked = await peekTurn(play(answered()));
    expect(peeked.meta).toEqual(META);
    expect(peeked.first).toEqual({ type: 'token', text: 'Refunds are possible ' });
    const replayed: TurnEvent[] = [];
    for await (const e of peeked.events) replayed.push(e);
    expect(replayed).toEqual(answered());
  });

  it('peekTurn replays a pipeline that throws before its first event as a throw', async () => {
    const peeked = await peekTurn(play([META], new Error('boom')));
    expect(peeked.first).toBeNull();
    await expect(collectTurn(peeked.events)).resolves.toMatchObject({ status: 'failed', error: null, conversationId: CONVERSATION });
  });

  it('collectTurn keeps the stored content and citations of an answered turn', async () => {
    const turn = await collectTurn(play(answered()));
    expect(turn).toMatchObject({ status: 'answered', conversationId: CONVERSATION, text: message().content, citations: CITATIONS });
  });
});

describe('AI SDK UI message stream translator', () => {
  it('an answer reads back in the ai package as one text part, a source part per citation and finish metadata', async () => {
    const res = uiMessageStreamResponse(play(answered()));
    expect(res.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { raw, chunks, errors, message: ui } = await readWithAiSdk(res.body!);
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(errors).toEqual([]);
    expect(chunks.map((c) => c.type)).toEqual(['start', 'text-start', 'text-delta', 'text-delta', 'text-delta', 'source-url', 'source-document', 'text-end', 'finish']);
    expect(ui?.id).toBe('msg_ASSISTANT');
    expect(textOf(ui)).toBe('Refunds are possible within 30 days [1]. Keep the receipt [2].');
    const sources = ui!.parts.filter((p) => p.type === 'source-url' || p.type === 'source-document');
    expect(sources).toEqual([
      expect.objectContaining({ type: 'source-url', sourceId: '1', url: 'https://docs.example.com/refunds', title: 'Refund policy' }),
      expect.objectContaining({ type: 'source-document', sourceId: '2', title: 'Notes', mediaType: 'text/plain' }),
    ]);
    expect(ui!.metadata).toMatchObject({ conversationId: CONVERSATION, userMessageId: 'msg_USER', unanswered: false, model: 'offline:extractive' });
    expect(chunks.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });

  it('an error mid-stream closes the text part, sends an error chunk and finishes with finishReason error', async () => {
    const { raw, chunks, errors, message: ui } = await readWithAiSdk(uiMessageStreamResponse(play(failedMidStream())).body!);
    expect(chunks.map((c) => c.type)).toEqual(['start', 'text-start', 'text-delta', 'text-end', 'error', 'finish']);
    expect(errors).toEqual(['The model stopped answering.']);
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'error' });
    expect(textOf(ui)).toBe('Refunds are ');
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('a paused turn starts and finishes with no text and paused metadata', async () => {
    const { chunks, errors, message: ui } = await readWithAiSdk(uiMessageStreamResponse(play(paused())).body!);
    expect(chunks.map((c) => c.type)).toEqual(['start', 'finish']);
    expect(errors).toEqual([]);
    expect(textOf(ui)).toBe('');
    expect(ui!.metadata).toMatchObject({ paused: 'human', conversationId: CONVERSATION });
  });

  it('a pipeline that throws ends the stream with an error chunk that leaks nothing', async () => {
    const { chunks, errors } = await readWithAiSdk(uiMessageStreamResponse(play([META, ...tokens('Half')], new Error('secret internals'))).body!);
    expect(chunks.map((c) => c.type)).toEqual(['start', 'text-start', 'text-delta', 'text-end', 'error', 'finish']);
    expect(errors).toEqual(['The answer could not be completed.']);
  });

  it('an answer that arrives whole (no tokens) still becomes the text part', async () => {
    const { message: ui } = await readWithAiSdk(uiMessageStreamResponse(play([META, { type: 'done', message: message({ cached: true }) }])).body!);
    expect(textOf(ui)).toBe(message().content);
    expect(ui!.metadata).toMatchObject({ cached: true });
  });
});

describe('Chatbase translator', () => {
  it('streams exactly the answer text', async () => {
    expect(await new Response(chatbaseTextStream(play(answered()))).text()).toBe('Refunds are possible within 30 days [1]. Keep the receipt [2].');
  });

  it('an error mid-stream errors the body after the text already sent', async () => {
    const reader = chatbaseTextStream(play(failedMidStream())).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('Refunds are ');
    await expect(reader.read()).rejects.toThrow(/model_failed/);
  });

  it('a paused turn is an empty body', async () => {
    expect(await new Response(chatbaseTextStream(play(paused()))).text()).toBe('');
  });

  it('the JSON reply carries text, conversationId and the citations as sources', async () => {
    const turn = await collectTurn(play(answered()));
    if (turn.status === 'failed') throw new Error('expected an answer');
    expect(chatbaseReply(turn)).toEqual({ text: message().content, conversationId: CONVERSATION, sources: CITATIONS, unanswered: false, paused: false });
  });
});

describe('OpenAI chat completions translator', () => {
  const options = { model: 'bot_1', created: 1_767_225_600 };

  it('streams a role chunk, content deltas, a finishing chunk with citations, then [DONE]', async () => {
    const lines = await sseDataLines(chatCompletionSseStream(play(answered()), options));
    expect(lines.at(-1)).toBe('[DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'chatcmpl-msg_ASSISTANT' && c.model === 'bot_1' && c.created === options.created)).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks[0].conversation_id).toBe(CONVERSATION);
    expect(chunks.slice(1, -1).map((c) => c.choices[0].delta.content).join('')).toBe(message().content);
    const last = chunks.at(-1);
    expect(last.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(last.citations).toEqual(CITATIONS);
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
  });

  it('with include_usage every chunk has usage null and one last chunk without choices carries it', async () => {
    const lines = await sseDataLines(chatCompletionSseStream(play(answered()), { ...options, includeUsage: true }));
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 120, completion_tokens: 14, total_tokens: 134 } });
  });

  it('an error mid-stream is one OpenAI error event and no [DONE]', async () => {
    const lines = await sseDataLines(chatCompletionSseStream(play(failedMidStream()), options));
    expect(lines).not.toContain('[DONE]');
    expect(JSON.parse(lines.at(-1)!)).toEqual({ error: { message: 'The model stopped answering.', type: 'server_error', code: 'model_failed', param: null } });
  });

  it('a paused turn finishes with no content and paused set', async () => {
    const lines = await sseDataLines(chatCompletionSseStream(play(paused()), options));
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(chunks.map((c) => c.choices[0].delta.content ?? null)).toEqual(['', null]);
    expect(chunks.at(-1)).toMatchObject({ paused: 'human', choices: [{ finish_reason: 'stop' }] });
  });

  it('the non-streamed completion carries the message, citations, usage and conversation_id', async () => {
    const turn = await collectTurn(play(answered()));
    if (turn.status === 'failed') throw new Error('expected an answer');
    expect(chatCompletion(turn, options)).toMatchObject({
      id: 'chatcmpl-msg_ASSISTANT',
      object: 'chat.completion',
      model: 'bot_1',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: message().content, citations: CITATIONS } }],
      usage: { prompt_tokens: 120, completion_tokens: 14, total_tokens: 134 },
      conversation_id: CONVERSATION,
    });
  });
});
