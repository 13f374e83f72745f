/**
 * The Embedder port: text in, one vector per text out, in order. Two adapters exist: any
 * OpenAI-compatible embeddings endpoint (openai-embedder.ts) and a deterministic offline
 * hashed embedder (offline-embedder.ts), which is the default so that everything runs with
 * no key and no network. `createEmbedder` (create-embedder.ts) picks one from settings.
 */
export interface EmbedOptions {
  signal?: AbortSignal;
}

export interface Embedder {
  /**
   * Names the vector space (provider, model, dimensions). Store it with the vectors: vectors
   * from different ids are not comparable, so a change means re-embedding.
   */
  readonly id: string;
  readonly dimensions: number;
  /** One vector per input, same order. Throws EmbeddingError with a reason on failure. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
}

export type EmbeddingFailureReason =
  | 'rate_limited'
  | 'unauthorized'
  | 'bad_request'
  | 'input_too_long'
  | 'server_error'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'invalid_response'
  /** The endpoint's URL (or a redirect) is refused by the egress policy: permanent. */
  | 'egress_refused';

/**
 * An embedding call that failed. `message` is for logs (it may quote the provider); callers
 * decide what reaches the wire from `reason`. `retryAfterMs` is set when the provider asked
 * for a pause longer than we were willing to wait inline, so a job can re-schedule itself.
 */
export class EmbeddingError extends Error {
  override readonly name = 'EmbeddingError';
  readonly reason: EmbeddingFailureReason;
  readonly status: number | undefined;
  readonly attempts: number;
  readonly retryAfterMs: number | undefined;

  constructor(
    reason: EmbeddingFailureReason,
    message: string,
    details: { status?: number; attempts?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.status = details.status;
    this.attempts = details.attempts ?? 0;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** Worth trying again later (a queue retry), as opposed to a request that can never succeed. */
  get retryable(): boolean {
    return ['rate_limited', 'server_error', 'network', 'timeout'].includes(this.reason);
  }
}
