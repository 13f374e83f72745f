/**
 * Streamed answers from any OpenAI-compatible `/chat/completions` endpoint (OpenAI, Azure,
 * Ollama, llama.cpp server, vLLM, Workers AI's OpenAI endpoint) through the `openai` SDK: a base
 * URL, a model and a key are all it needs.
 *
 * - Every request goes through the egress guard (src/egress), with a cap on the bytes read.
 * - Two deadlines: the first delta must arrive within `firstTokenTimeoutMs` (connecting and the
 *   model's silence before answering), the whole answer within `totalTimeoutMs`.
 * - 429, 408, 5xx and connection failures are retried, waiting as long as Retry-After asks, but
 *   only until the first delta has been handed out: once the visitor has seen part of an answer,
 *   a retry would repeat or contradict it, so a failure after that throws `ChatModelError`.
 * - The SDK's own retries are off: one policy (src/ai/retry.ts) with injectable sleep.
 */
import OpenAI from 'openai';
import { CHAT_MODEL } from '../limits';
import { PUBLIC_ONLY, egressFetch, type EgressFetcher, type EgressPolicy } from '../egress';
import { ChatModelError, type ChatChunk, type ChatModel, type ChatRequest, type PromptMessage, type ToolCall } from './chat-model';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, realSleep, type RetryPolicy, type Sleep } from './retry';
import { classifyProviderError, type ProviderErrorProfile, type ProviderFailure } from './provider-errors';

export interface OpenAIChatModelConfig {
  /** Keyless local servers (Ollama, llama.cpp) accept any placeholder. */
  apiKey: string;
  /**
   * e.g. http://localhost:8080/v1 (llama.cpp), https://{resource}.openai.azure.com/openai/v1 or an
   * Azure deployment URL with `?api-version=…` (its query is sent with every request); the SDK's
   * default (api.openai.com) when absent.
   */
  baseURL?: string;
  model: string;
  firstTokenTimeoutMs?: number;
  totalTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export interface OpenAIChatModelDeps {
  /** Where guarded requests go (an egress proxy binding; tests use the fake server). */
  fetch?: EgressFetcher;
  egressPolicy?: EgressPolicy;
  sleep?: Sleep;
  random?: () => number;
  now?: () => number;
}

/** Why our own deadlines abort a request; read back from the signal to name the failure. */
const FIRST_TOKEN_DEADLINE = 'first_token_deadline';
const TOTAL_DEADLINE = 'total_deadline';

export class OpenAICompatibleChatModel implements ChatModel {
  readonly id: string;
  readonly supportsTools = true;
  private readonly client: OpenAI;
  private readonly model: string;
  private readonly firstTokenTimeoutMs: number;
  private readonly totalTimeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(config: OpenAIChatModelConfig, deps: OpenAIChatModelDeps = {}) {
    const endpoint = splitBaseUrl(config.baseURL);
    this.id = `openai-compatible:${endpoint.host}:${config.model}`;
    this.model = config.model;
    this.firstTokenTimeoutMs = config.firstTokenTimeoutMs ?? CHAT_MODEL.firstTokenTimeoutMs;
    this.totalTimeoutMs = config.totalTimeoutMs ?? CHAT_MODEL.totalTimeoutMs;
    this.retry = { ...DEFAULT_RETRY_POLICY, maxAttempts: CHAT_MODEL.maxAttempts, maxRetryAfterMs: CHAT_MODEL.maxRetryAfterMs, ...config.retry };
    this.sleep = deps.sleep ?? realSleep;
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
    this.client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: endpoint.baseURL,
      defaultQuery: endpoint.query,
      // Azure takes its key in `api-key`; other servers ignore the extra header.
      defaultHeaders: endpoint.azure ? { 'api-key': config.apiKey } : undefined,
      fetch: egressFetch({
        policy: deps.egressPolicy ?? PUBLIC_ONLY,
        fetcher: deps.fetch,
        timeoutMs: this.totalTimeoutMs,
        maxBytes: CHAT_MODEL.maxResponseBytes,
      }),
      maxRetries: 0,
      timeout: this.totalTimeoutMs,
    });
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const total = new AbortController();
    const totalTimer = setTimeout(() => total.abort(TOTAL_DEADLINE), this.totalTimeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, total.signal]) : total.signal;
    let emitted = false;
    try {
      for (let attempt = 1; ; attempt++) {
        const first = new AbortController();
        const firstTimer = setTimeout(() => first.abort(FIRST_TOKEN_DEADLINE), this.firstTokenTimeoutMs);
        const attemptSignal = AbortSignal.any([signal, first.signal]);
        let failure: ProviderFailure;
        try {
          const stream = await this.client.chat.completions.create(
            {
              model: this.model,
              messages: request.messages.map(toOpenAiMessage),
              ...(request.tools?.length
                ? { tools: request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })) }
                : {}),
              temperature: request.temperature,
              max_tokens: request.maxTokens,
              stream: true,
              stream_options: { include_usage: true },
            },
            { signal: attemptSignal, maxRetries: 0 },
          );
          let usage: ChatChunk | null = null;
          const calls = new ToolCallAssembler();
          for await (const chunk of stream) {
            const delta = chunk.choices?.[0]?.delta;
            const text = delta?.content;
            if (typeof text === 'string' && text.length > 0) {
              if (!emitted) clearTimeout(firstTimer);
              emitted = true;
              yield { type: 'text', text };
            }
            // Tool calls are handed out only once complete, so a retry before then repeats nothing.
            if (delta?.tool_calls?.length) {
              clearTimeout(firstTimer);
              calls.add(delta.tool_calls);
            }
            if (chunk.usage) usage = { type: 'usage', usage: toUsage(chunk.usage) };
          }
          clearTimeout(firstTimer);
          const toolCalls = calls.complete();
          // A stream that ends without a word (or a call) is no answer: let a fallback model try.
          if (!emitted && toolCalls.length === 0) throw new ChatModelError('invalid_response', `${this.model} returned an empty answer`, { attempts: attempt, model: this.id });
          if (toolCalls.length > 0) {
            emitted = true;
            yield { type: 'tool_calls', calls: toolCalls };
          }
          if (usage) yield usage;
          return;
        } catch (error) {
          clearTimeout(firstTimer);
          if (error instanceof ChatModelError) throw error;
          failure = classifyFailure(error, { request: request.signal, total: total.signal, first: first.signal }, this.now());
          if (emitted) {
            throw new ChatModelError(failure.reason, `${this.model} failed mid-answer (not retried after partial output): ${failure.message}`, {
              status: failure.status,
              attempts: attempt,
              model: this.id,
            });
          }
        }

        const exhausted = attempt >= this.retry.maxAttempts;
        const waitTooLong = failure.retryAfterMs !== undefined && failure.retryAfterMs > this.retry.maxRetryAfterMs;
        if (!failure.retryable || exhausted || waitTooLong) {
          const suffix = waitTooLong ? ` (provider asked to wait ${failure.retryAfterMs} ms)` : '';
          throw new ChatModelError(failure.reason, `${failure.message}${suffix}; gave up after ${attempt} attempt(s)`, {
            status: failure.status,
            attempts: attempt,
            retryAfterMs: failure.retryAfterMs,
            model: this.id,
          });
        }
        const delay = failure.retryAfterMs ?? backoffDelayMs(attempt - 1, this.retry, this.random);
        try {
          await this.sleep(delay, signal);
        } catch {
          const reason = total.signal.aborted && !request.signal?.aborted ? 'timeout' : 'aborted';
          throw new ChatModelError(reason, `chat request ${reason === 'timeout' ? 'timed out' : 'was aborted'} while waiting to retry`, { attempts: attempt, model: this.id });
        }
      }
    } finally {
      clearTimeout(totalTimer);
    }
  }
}

/** Our prompt message in OpenAI's shape: assistant messages may carry tool calls, tool messages answer one. */
function toOpenAiMessage(m: PromptMessage): OpenAI.ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
  if (m.role === 'assistant' && m.toolCalls?.length) {
    return {
      role: 'assistant',
      content: m.content || null,
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
    };
  }
  return { role: m.role, content: m.content } as OpenAI.ChatCompletionMessageParam;
}

/**
 * Streamed tool calls arrive as fragments keyed by `index`: the first names the call (id, name),
 * later ones append to its arguments. Bounded: at most CHAT_MODEL.maxToolCalls calls and
 * CHAT_MODEL.maxToolArgumentsChars of arguments each are kept (a model streaming more is cut, and
 * its arguments then fail to parse, which the caller reports to the model as an error).
 */
class ToolCallAssembler {
  private readonly calls = new Map<number, ToolCall>();

  add(deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[]) {
    for (const d of deltas) {
      const index = typeof d.index === 'number' ? d.index : 0;
      let call = this.calls.get(index);
      if (!call) {
        if (this.calls.size >= CHAT_MODEL.maxToolCalls) continue;
        call = { id: '', name: '', arguments: '' };
        this.calls.set(index, call);
      }
      if (d.id) call.id = d.id;
      if (d.function?.name) call.name += d.function.name;
      if (d.function?.arguments && call.arguments.length < CHAT_MODEL.maxToolArgumentsChars) call.arguments += d.function.arguments;
    }
  }

  complete(): ToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({ id: c.id || `call_${index}`, name: c.name, arguments: c.arguments.slice(0, CHAT_MODEL.maxToolArgumentsChars) }))
      .filter((c) => c.name.length > 0);
  }
}

function toUsage(usage: OpenAI.CompletionUsage) {
  const promptTokens = nonNegative(usage.prompt_tokens);
  const completionTokens = nonNegative(usage.completion_tokens);
  return { promptTokens, completionTokens, totalTokens: nonNegative(usage.total_tokens) || promptTokens + completionTokens };
}

const nonNegative = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

const CHAT_ERRORS: ProviderErrorProfile = { endpoint: 'chat endpoint', call: 'chat request', retryOwnTimeout: false, retryConflict: false, streamed: true };

/** Our own deadlines and the caller's abort first (only the signals tell them apart), then what the provider did. */
function classifyFailure(error: unknown, signals: { request?: AbortSignal; total: AbortSignal; first: AbortSignal }, nowMs: number): ProviderFailure {
  if (signals.request?.aborted) return { reason: 'aborted', retryable: false, message: 'chat request was aborted by the caller' };
  if (signals.total.aborted) return { reason: 'timeout', retryable: false, message: 'chat answer did not finish in time' };
  // Not retried: the next model in the fallback list is a better use of the visitor's patience.
  if (signals.first.aborted) return { reason: 'timeout', retryable: false, message: 'no answer started in time' };
  return classifyProviderError(error, CHAT_ERRORS, nowMs);
}

/**
 * The SDK appends paths to `baseURL` as a string, so a query in it (Azure's `api-version`) would
 * end up before the path: it is moved to `defaultQuery`, which the SDK adds to every request.
 */
function splitBaseUrl(baseURL: string | undefined): { baseURL?: string; query?: Record<string, string>; host: string; azure: boolean } {
  if (!baseURL) return { host: 'api.openai.com', azure: false };
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    // The egress guard refuses it on the first call, with a reason.
    return { baseURL, host: 'custom', azure: false };
  }
  const query = url.search ? Object.fromEntries(url.searchParams) : undefined;
  url.search = '';
  url.hash = '';
  const azure = /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i.test(url.hostname);
  return { baseURL: url.toString().replace(/\/$/, ''), query, host: url.host, azure };
}
