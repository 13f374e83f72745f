/**
 * Embeddings from any OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure, Ollama,
 * llama.cpp server, vLLM, Workers AI's OpenAI endpoint) through the `openai` SDK.
 *
 * - Inputs are packed into requests under the provider's limits (inputs and tokens per
 *   request); an input over the per-input token limit is rejected up front, never truncated.
 * - 429, 408/409, 5xx and connection failures are retried with backoff, waiting exactly as
 *   long as Retry-After asks when the provider says so. The SDK's own retries are disabled so
 *   that there is one policy, with injectable sleep.
 * - Every failure surfaces as an EmbeddingError with a reason, the HTTP status and attempts.
 * - Every request goes through the egress guard (src/egress): the base URL and any redirect
 *   are checked before anything is sent, so an org's key cannot be posted to an internal
 *   address, and responses are capped in size.
 */
import OpenAI from 'openai';
import { EGRESS, OPENAI_EMBEDDINGS } from '../limits';
import { PUBLIC_ONLY, egressFetch, type EgressFetcher, type EgressPolicy } from '../egress';
import { EmbeddingError, type Embedder, type EmbedOptions } from './embedder';
import { planEmbeddingBatches } from './embedding-batches';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, realSleep, type RetryPolicy, type Sleep } from './retry';
import { classifyProviderError, type ProviderErrorProfile, type ProviderFailure } from './provider-errors';

export const DEFAULT_OPENAI_EMBEDDING_MODEL = 'text-embedding-3-small';
export const DEFAULT_OPENAI_EMBEDDING_DIMENSIONS = 1536;

export interface OpenAIEmbedderConfig {
  apiKey: string;
  /** e.g. http://localhost:11434/v1 for Ollama; the SDK's default (api.openai.com) when absent. */
  baseURL?: string;
  model: string;
  /** Length of every returned vector; responses of another length are rejected. */
  dimensions: number;
  /**
   * Send `dimensions` in the request (text-embedding-3 models shorten their output to it).
   * Defaults to true for text-embedding-3*, false otherwise: most other servers reject it.
   */
  requestDimensions?: boolean;
  maxInputsPerRequest?: number;
  maxTokensPerRequest?: number;
  maxTokensPerInput?: number;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export interface OpenAIEmbedderDeps {
  /**
   * Where the guarded requests go (an egress proxy binding; tests use an in-process fake
   * server). The egress guard runs in front of it either way.
   */
  fetch?: EgressFetcher;
  /** Which hosts the endpoint may be on; public hosts only by default. */
  egressPolicy?: EgressPolicy;
  sleep?: Sleep;
  random?: () => number;
  now?: () => number;
  /**
   * Tokens in one input. Defaults to cl100k_base (the tokenizer of OpenAI's embedding models),
   * a fair estimate for other providers' budgets too.
   */
  countTokens?: (text: string) => number | Promise<number>;
}

export class OpenAICompatibleEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly client: OpenAI;
  private readonly config: Required<Omit<OpenAIEmbedderConfig, 'baseURL' | 'retry'>> & { retry: RetryPolicy };
  private readonly deps: Required<Omit<OpenAIEmbedderDeps, 'fetch' | 'countTokens' | 'egressPolicy'>> & Pick<OpenAIEmbedderDeps, 'countTokens'>;

  constructor(config: OpenAIEmbedderConfig, deps: OpenAIEmbedderDeps = {}) {
    if (!Number.isInteger(config.dimensions) || config.dimensions < 1) {
      throw new RangeError(`dimensions must be a positive integer, got ${config.dimensions}`);
    }
    this.dimensions = config.dimensions;
    const host = config.baseURL ? safeHost(config.baseURL) : 'api.openai.com';
    this.id = `openai-compatible:${host}:${config.model}/${config.dimensions}`;
    this.config = {
      apiKey: config.apiKey,
      model: config.model,
      dimensions: config.dimensions,
      requestDimensions: config.requestDimensions ?? config.model.startsWith('text-embedding-3'),
      maxInputsPerRequest: config.maxInputsPerRequest ?? OPENAI_EMBEDDINGS.maxInputsPerRequest,
      maxTokensPerRequest: config.maxTokensPerRequest ?? OPENAI_EMBEDDINGS.maxTokensPerRequest,
      maxTokensPerInput: config.maxTokensPerInput ?? OPENAI_EMBEDDINGS.maxTokensPerInput,
      timeoutMs: config.timeoutMs ?? EGRESS.providerTimeoutMs,
      retry: { ...DEFAULT_RETRY_POLICY, ...config.retry },
    };
    this.deps = {
      sleep: deps.sleep ?? realSleep,
      random: deps.random ?? Math.random,
      now: deps.now ?? Date.now,
      countTokens: deps.countTokens,
    };
    this.client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseURL,
      fetch: egressFetch({
        policy: deps.egressPolicy ?? PUBLIC_ONLY,
        fetcher: deps.fetch,
        timeoutMs: this.config.timeoutMs,
        maxBytes: EGRESS.providerMaxResponseBytes,
      }),
      maxRetries: 0,
      timeout: this.config.timeoutMs,
    });
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const empty = texts.findIndex((t) => t.trim().length === 0);
    if (empty !== -1) throw new EmbeddingError('bad_request', `input ${empty} is empty; embedding endpoints reject empty strings`);

    const tokenCounts = await this.countTokens(texts);
    const tooLong = tokenCounts.findIndex((n) => n > this.config.maxTokensPerInput);
    if (tooLong !== -1) {
      throw new EmbeddingError(
        'input_too_long',
        `input ${tooLong} has ~${tokenCounts[tooLong]} tokens; ${this.config.model} accepts at most ${this.config.maxTokensPerInput}`,
      );
    }

    const vectors: Float32Array[] = new Array(texts.length);
    const batches = planEmbeddingBatches(tokenCounts, this.config);
    // Sequential on purpose: parallel batches mostly buy 429s from rate-limited providers.
    for (const batch of batches) {
      const batchVectors = await this.requestWithRetries(texts.slice(batch.start, batch.end), options.signal);
      batchVectors.forEach((v, i) => (vectors[batch.start + i] = v));
    }
    return vectors;
  }

  private async countTokens(texts: readonly string[]): Promise<number[]> {
    const count = this.deps.countTokens ?? (await loadDefaultTokenCounter());
    return Promise.all(texts.map((t) => count(t)));
  }

  private async requestWithRetries(input: string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    const policy = this.config.retry;
    for (let attempt = 1; ; attempt++) {
      let failure: ProviderFailure;
      try {
        const response = await this.client.embeddings.create(
          {
            model: this.config.model,
            input,
            // Explicit float: the SDK would otherwise ask for base64, which many compatible servers lack.
            encoding_format: 'float',
            ...(this.config.requestDimensions ? { dimensions: this.config.dimensions } : {}),
          },
          { signal, maxRetries: 0 },
        );
        return this.readVectors(response, input.length, attempt);
      } catch (error) {
        if (error instanceof EmbeddingError) throw error;
        failure = classifyFailure(error, signal, this.deps.now());
        // The refusal is the whole story: no retry count, nothing was sent.
        if (failure.reason === 'egress_refused') throw new EmbeddingError('egress_refused', failure.message, { attempts: attempt });
      }

      const exhausted = attempt >= policy.maxAttempts;
      const waitTooLong = failure.retryAfterMs !== undefined && failure.retryAfterMs > policy.maxRetryAfterMs;
      if (!failure.retryable || exhausted || waitTooLong) {
        const suffix = waitTooLong ? ` (provider asked to wait ${failure.retryAfterMs} ms)` : '';
        throw new EmbeddingError(failure.reason, `${failure.message}${suffix}; gave up after ${attempt} attempt(s)`, {
          status: failure.status,
          attempts: attempt,
          retryAfterMs: failure.retryAfterMs,
        });
      }
      const delay = failure.retryAfterMs ?? backoffDelayMs(attempt - 1, policy, this.deps.random);
      try {
        await this.deps.sleep(delay, signal);
      } catch (error) {
        throw new EmbeddingError('aborted', 'embedding was aborted while waiting to retry', { attempts: attempt, cause: error });
      }
    }
  }

  private readVectors(response: OpenAI.CreateEmbeddingResponse, expected: number, attempt: number): Float32Array[] {
    const invalid = (why: string) =>
      new EmbeddingError('invalid_response', `embeddings response from ${this.config.model} is invalid: ${why}`, { attempts: attempt });
    const data = Array.isArray(response?.data) ? response.data : null;
    if (!data || data.length !== expected) throw invalid(`expected ${expected} embeddings, got ${data?.length ?? 'none'}`);

    const vectors: Float32Array[] = new Array(expected);
    data.forEach((item, position) => {
      // Servers should return `index`; if one omits it, position is the only order we have.
      const index = typeof item.index === 'number' ? item.index : position;
      if (index < 0 || index >= expected || vectors[index]) throw invalid(`bad or repeated index ${index}`);
      const values = item.embedding as unknown;
      if (!Array.isArray(values) || values.length !== this.dimensions) {
        throw invalid(`embedding ${index} has ${Array.isArray(values) ? values.length : typeof values} values, expected ${this.dimensions}`);
      }
      const vector = Float32Array.from(values as number[]);
      if (!vector.every(Number.isFinite)) throw invalid(`embedding ${index} has non-finite values`);
      vectors[index] = vector;
    });
    return vectors;
  }
}

const EMBEDDING_ERRORS: ProviderErrorProfile = { endpoint: 'embeddings endpoint', call: 'embedding request', retryOwnTimeout: true, retryConflict: true, streamed: false };

function classifyFailure(error: unknown, signal: AbortSignal | undefined, nowMs: number): ProviderFailure {
  if (signal?.aborted) return { reason: 'aborted', retryable: false, message: 'embedding request was aborted' };
  return classifyProviderError(error, EMBEDDING_ERRORS, nowMs);
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'custom';
  }
}

// Loaded on first use: the cl100k ranks are ~1 MB of source and cost CPU to initialise.
let defaultTokenCounter: Promise<(text: string) => number> | undefined;
function loadDefaultTokenCounter(): Promise<(text: string) => number> {
  defaultTokenCounter ??= import('gpt-tokenizer/encoding/cl100k_base').then((m) => (text: string) => m.countTokens(text));
  return defaultTokenCounter;
}
