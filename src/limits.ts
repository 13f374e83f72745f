/**
 * Every platform and product limit KyroChat relies on, with where it comes from.
 * Change a number here, not at its use.
 */

// --- Cloudflare platform ----------------------------------------------------------------
/** https://developers.cloudflare.com/d1/platform/limits/ : bound parameters per statement. */
export const D1_MAX_BOUND_PARAMETERS = 100;
/** https://developers.cloudflare.com/vectorize/platform/limits/ */
export const VECTORIZE = {
  maxDimensions: 1536,
  maxTopKWithoutMetadata: 100,
  maxTopKWithMetadata: 20,
  maxMetadataBytes: 10 * 1024,
  maxIdBytes: 64,
  maxUpsertBatch: 1000,
  maxNamespaces: 50_000,
  maxFilterJsonBytes: 2048,
} as const;
/** https://developers.cloudflare.com/queues/platform/limits/ */
export const QUEUES = {
  maxMessageBytes: 128 * 1024,
  maxSendBatchMessages: 100,
  maxSendBatchBytes: 256 * 1024,
  maxDelaySeconds: 12 * 60 * 60,
} as const;

// --- Product ------------------------------------------------------------------------------
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;
/** scrypt N=2^14, r=8, p=1 (OWASP minimum): 16 MiB of memory per hash, well inside a 128 MB isolate. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;
export const PASSWORD_RESET_TTL_MS = 30 * 60 * 1000;
export const EMAIL_VERIFY_TTL_MS = 48 * 60 * 60 * 1000;
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const RATE_LIMIT_WINDOW_SECONDS = 60;
/**
 * Slices per sliding window in the RateLimiter Durable Object: bounds its storage to ~60
 * rows per key and makes it deny at most window/60 early (never admit late).
 */
export const RATE_LIMIT_GRANULES_PER_WINDOW = 60;

// --- Vector index and embeddings (src/ai) ---------------------------------------------------
/**
 * More Vectorize rules the local index mirrors and both paths validate:
 * https://developers.cloudflare.com/vectorize/platform/limits/ (namespace name length, metadata
 * indexes per index) and https://developers.cloudflare.com/vectorize/reference/metadata-filtering/
 * (filter key length; string metadata indexes hold the first 64 bytes of a value).
 * https://developers.cloudflare.com/vectorize/reference/client-api/ : topK defaults to 5.
 */
export const VECTORIZE_RULES = {
  defaultTopK: 5,
  maxNamespaceBytes: 64,
  maxMetadataIndexes: 10,
  indexedStringBytes: 64,
  maxFilterKeyLength: 512,
} as const;
/**
 * https://platform.openai.com/docs/api-reference/embeddings/create : at most 2048 inputs and
 * 300,000 tokens summed per request; 8192 tokens per input for text-embedding-3 models.
 */
export const OPENAI_EMBEDDINGS = {
  maxInputsPerRequest: 2048,
  maxTokensPerRequest: 300_000,
  maxTokensPerInput: 8192,
} as const;

// --- Knowledge: chunking and extraction ---------------------------------------------------
/**
 * Chunk sizes in cl100k_base tokens. The ceiling is the input limit of OpenAI's embedding
 * models (https://platform.openai.com/docs/guides/embeddings: 8192 tokens for
 * text-embedding-3-*); the floor keeps any single character (at most 4 tokens) splittable.
 */
export const CHUNKING = {
  minChunkTokens: 32,
  maxChunkTokens: 8191,
  defaultChunkTokens: 400,
  defaultOverlapTokens: 50,
  /** Overlap beyond half a chunk would make every chunk mostly repetition. */
  maxOverlapRatio: 0.5,
  defaultWindowSentences: 2,
  maxWindowSentences: 10,
} as const;
/** RFC 9309 §2.5: crawlers must parse at least 500 KiB of robots.txt and may ignore the rest. */
export const ROBOTS_TXT_MAX_BYTES = 500 * 1024;
/** https://www.sitemaps.org/protocol.html : at most 50,000 URLs and 50 MB (uncompressed) per file. */
export const SITEMAP_MAX_URLS = 50_000;
export const SITEMAP_MAX_BYTES = 50 * 1024 * 1024;
/** Product: text kept from one crawled page; more is almost always generated noise. */
export const WEB_PAGE_MAX_TEXT_CHARS = 2_000_000;
/** Product: JSON uploads are flattened to "path: value" lines down to this depth; deeper
 * subtrees are written inline as JSON, cut at EXTRACTION_INLINE_JSON_MAX_CHARS. */
export const EXTRACTION_JSON_MAX_DEPTH = 12;
export const EXTRACTION_INLINE_JSON_MAX_CHARS = 1000;
/** Product: a .docx whose document part inflates beyond this is refused (zip bomb guard). */
export const EXTRACTION_DOCX_MAX_XML_BYTES = 64 * 1024 * 1024;

// --- Retrieval (issue #7) -----------------------------------------------------------------
/**
 * Calibrated relevance (src/features/knowledge/retrieval/relevance.ts).
 * - `defaultAbstainBelow`: chat's default abstention threshold and a sensible `minScore`. 0.5
 *   reads as "the chunk covers at least half of what the question specifically asks for (its
 *   IDF-weighted terms), or the embedder rates it at least halfway to a paraphrase". Not fitted
 *   to the eval corpora; the README reports what it gives there.
 * - `floorDocumentShare`: a query needs at least the informative mass of one term found in
 *   this share of the bot's chunks before any chunk can cover it fully.
 * - `dfSampleChunks`: spaceless bigram frequencies are counted by substring over at most this
 *   many of the bot's chunks (bounded cost per search; a proportion needs no full count).
 */
export const RELEVANCE = {
  defaultAbstainBelow: 0.5,
  floorDocumentShare: 0.1,
  dfSampleChunks: 2_000,
} as const;
/** Chat's default: abstain when the best hit's relevance is below this. */
export const DEFAULT_ABSTAIN_RELEVANCE = RELEVANCE.defaultAbstainBelow;

/**
 * Reranking through the common `/rerank` API (Cohere, Jina, Voyage, vLLM, TEI, Infinity).
 * A reranker sits on the search path, so it gets a short budget: past `timeoutMs` the search
 * answers in fused order. `maxDocuments` bounds the payload (Cohere accepts up to 1,000, but a
 * cross-encoder's cost grows with every candidate and only the head of the list matters);
 * `maxDocumentChars` keeps a request near 50 × 4 KB; `maxResponseBytes` caps what we read back.
 */
export const RERANK = {
  timeoutMs: 4_000,
  defaultTopN: 20,
  maxDocuments: 50,
  maxDocumentChars: 4_000,
  maxResponseBytes: 256 * 1024,
} as const;
