/**
 * The OpenAI-compatible embedder against a fake embeddings server: the real `openai` SDK
 * sends real HTTP requests, routed through its `fetch` option to an in-test handler.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddingError } from '../../src/ai/embedder';
import { OpenAICompatibleEmbedder, type OpenAIEmbedderConfig } from '../../src/ai/openai-embedder';

interface EmbeddingsRequest {
  url: string;
  authorization: string | null;
  body: { model: string; input: string[]; encoding_format?: string; dimensions?: number };
}

type Reply = (request: EmbeddingsRequest) => Response | Promise<Response>;

/** A vector that encodes its text, so tests can check which vector came back for which input. */
const vectorFor = (text: string, dims: number) => Array.from({ length: dims }, (_, i) => (i === 0 ? text.length : (text.charCodeAt(i % text.length) % 7) / 7));

const success = (dims: number): Reply => (request) =>
  Response.json({
    object: 'list',
    model: request.body.model,
    data: request.body.input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text, request.body.dimensions ?? dims) })),
    usage: { prompt_tokens: 1, total_tokens: 1 },
  });

const failure = (status: number, headers: Record<string, string> = {}, code?: string): Reply => () =>
  Response.json({ error: { message: `fake failure ${status}`, type: 'test', code: code ?? null } }, { status, headers });

/** Replies from a script, one entry per request; the last entry repeats. */
function fakeServer(script: Reply[]) {
  const requests: EmbeddingsRequest[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const recorded: EmbeddingsRequest = { url: request.url, authorization: request.headers.get('authorization'), body: await request.json() };
    requests.push(recorded);
    return script[Math.min(requests.length - 1, script.length - 1)]!(recorded);
  };
  return { fetch, requests };
}

function harness(script: Reply[], config: Partial<OpenAIEmbedderConfig> = {}) {
  const server = fakeServer(script);
  const sleeps: number[] = [];
  const embedder = new OpenAICompatibleEmbedder(
    { apiKey: 'sk-test', baseURL: 'https://llm.test/v1', model: 'text-embedding-3-small', dimensions: 4, ...config },
    {
      fetch: server.fetch,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      now: () => Date.parse('2026-11-21T12:00:00Z'),
      countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
    },
  );
  return { embedder, requests: server.requests, sleeps };
}

async function failureOf(promise: Promise<unknown>): Promise<EmbeddingError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EmbeddingError);
  return error as EmbeddingError;
}

describe('OpenAI-compatible embedder', () => {
  it('sends model, inputs, float encoding and dimensions with the bearer key, and returns vectors in input order', async () => {
    const { embedder, requests } = harness([success(4)]);
    const vectors = await embedder.embed(['alpha', 'beta gamma']);

    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('https://llm.test/v1/embeddings');
    expect(requests[0]!.authorization).toBe('Bearer sk-test');
    expect(requests[0]!.body).toEqual({ model: 'text-embedding-3-small', input: ['alpha', 'beta gamma'], encoding_format: 'float', dimensions: 4 });
    expect(vectors.map((v) => Array.from(v))).toEqual([vectorFor('alpha', 4), vectorFor('beta gamma', 4)].map((v) => Array.from(Float32Array.from(v))));
    expect(embedder.id).toBe('openai-compatible:llm.test:text-embedding-3-small/4');
  });

  it('does not send `dimensions` to models that would reject it', async () => {
    const { embedder, requests } = harness([success(4)], { model: 'nomic-embed-text' });
    await embedder.embed(['hello']);
    expect(requests[0]!.body).not.toHaveProperty('dimensions');
  });

  it('places vectors by their index even when the server returns them out of order', async () => {
    const reversed: Reply = async (request) => {
      const body = await (await success(4)(request)).json<{ data: unknown[] }>();
      return Response.json({ ...body, data: [...body.data].reverse() });
    };
    const { embedder } = harness([reversed]);
    const [first, second] = await embedder.embed(['a', 'bb']);
    expect(first![0]).toBe(1);
    expect(second![0]).toBe(2);
  });

  it('splits inputs into batches within the input and token limits, keeping order', async () => {
    const { embedder, requests } = harness([success(4)], { maxInputsPerRequest: 3, maxTokensPerRequest: 6 });
    const texts = ['one', 'two two', 'three three three', 'four', 'five', 'six', 'seven', 'eight eight eight eight eight eight'];
    const vectors = await embedder.embed(texts);

    expect(requests.map((r) => r.body.input)).toEqual([
      ['one', 'two two', 'three three three'],
      ['four', 'five', 'six'],
      ['seven'],
      ['eight eight eight eight eight eight'],
    ]);
    expect(vectors.map((v) => v[0])).toEqual(texts.map((t) => t.length));
  });

  it('rejects an input over the per-input token limit, or an empty one, before calling the provider', async () => {
    const { embedder, requests } = harness([success(4)], { maxTokensPerInput: 3 });
    const tooLong = await failureOf(embedder.embed(['fine', 'far too many words here']));
    expect(tooLong.reason).toBe('input_too_long');
    expect(tooLong.message).toContain('input 1');
    expect((await failureOf(embedder.embed(['fine', '  ']))).reason).toBe('bad_request');
    expect(requests).toHaveLength(0);
    expect(await embedder.embed([])).toEqual([]);
  });

  it('counts tokens with the cl100k tokenizer by default', async () => {
    const embedder = new OpenAICompatibleEmbedder(
      { apiKey: 'sk-test', baseURL: 'https://llm.test/v1', model: 'text-embedding-3-small', dimensions: 4, maxTokensPerInput: 5 },
      { fetch: fakeServer([success(4)]).fetch },
    );
    await expect(embedder.embed(['hello world'])).resolves.toHaveLength(1);
    expect((await failureOf(embedder.embed(['the quick brown fox jumps over the lazy dog']))).reason).toBe('input_too_long');
  });

  it('retries a 429 after the Retry-After the server asked for, then succeeds', async () => {
    const { embedder, requests, sleeps } = harness([failure(429, { 'retry-after': '2' }), success(4)]);
    const vectors = await embedder.embed(['hello']);
    expect(vectors).toHaveLength(1);
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([2000]);
  });

  it('understands retry-after-ms and HTTP-date Retry-After', async () => {
    const ms = harness([failure(429, { 'retry-after-ms': '150' }), success(4)]);
    await ms.embedder.embed(['hello']);
    expect(ms.sleeps).toEqual([150]);

    const date = harness([failure(503, { 'retry-after': 'Sat, 21 Nov 2026 12:00:03 GMT' }), success(4)]);
    await date.embedder.embed(['hello']);
    expect(date.sleeps).toEqual([3000]);
  });

  it('backs off exponentially on 5xx and gives up after the last attempt with the reason', async () => {
    const { embedder, requests, sleeps } = harness([failure(503)], { retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 } });
    const error = await failureOf(embedder.embed(['hello']));
    expect(error).toMatchObject({ reason: 'server_error', status: 503, attempts: 4, retryable: true });
    expect(error.message).toContain('503');
    expect(requests).toHaveLength(4);
    expect(sleeps).toEqual([50, 100, 200]); // full jitter with random() = 0.5
  });

  it('fails at once, without waiting, when Retry-After is longer than it will wait inline', async () => {
    const { embedder, requests, sleeps } = harness([failure(429, { 'retry-after': '120' })]);
    const error = await failureOf(embedder.embed(['hello']));
    expect(error).toMatchObject({ reason: 'rate_limited', status: 429, attempts: 1, retryAfterMs: 120_000, retryable: true });
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('does not retry what waiting cannot fix: bad key, bad request, exhausted quota', async () => {
    for (const [reply, reason] of [
      [failure(401), 'unauthorized'],
      [failure(400), 'bad_request'],
      [failure(404), 'bad_request'],
      [failure(429, {}, 'insufficient_quota'), 'rate_limited'],
    ] as const) {
      const { embedder, requests, sleeps } = harness([reply]);
      const error = await failureOf(embedder.embed(['hello']));
      expect(error.reason).toBe(reason);
      expect(requests).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
  });

  it('retries network failures and reports them as such', async () => {
    let calls = 0;
    const embedder = new OpenAICompatibleEmbedder(
      { apiKey: 'sk-test', baseURL: 'https://llm.test/v1', model: 'm', dimensions: 4, retry: { maxAttempts: 2 } },
      {
        fetch: async () => {
          calls++;
          throw new TypeError('connection refused');
        },
        sleep: async () => {},
        countTokens: () => 1,
      },
    );
    const error = await failureOf(embedder.embed(['hello']));
    expect(error).toMatchObject({ reason: 'network', attempts: 2 });
    expect(calls).toBe(2);
  });

  it('rejects responses with the wrong number or size of embeddings', async () => {
    const wrongSize = harness([success(3)], { model: 'other-model' });
    expect((await failureOf(wrongSize.embedder.embed(['hello']))).reason).toBe('invalid_response');

    const missing: Reply = () => Response.json({ object: 'list', data: [], model: 'm', usage: {} });
    const missingOne = harness([missing]);
    const error = await failureOf(missingOne.embedder.embed(['hello']));
    expect(error.reason).toBe('invalid_response');
    expect(missingOne.requests).toHaveLength(1);
  });

  it('stops when aborted while waiting to retry', async () => {
    const controller = new AbortController();
    const server = fakeServer([failure(503)]);
    const embedder = new OpenAICompatibleEmbedder(
      { apiKey: 'sk-test', baseURL: 'https://llm.test/v1', model: 'm', dimensions: 4 },
      {
        fetch: server.fetch,
        countTokens: () => 1,
        sleep: async (_ms, signal) => {
          controller.abort();
          signal?.throwIfAborted();
        },
      },
    );
    const error = await failureOf(embedder.embed(['hello'], { signal: controller.signal }));
    expect(error.reason).toBe('aborted');
    expect(server.requests).toHaveLength(1);
  });
});
