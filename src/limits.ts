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

/**
 * Product: the cron sweeper (src/jobs/scheduled.ts) treats queued / processing / deleting work
 * untouched this long as stranded by a lost message. Far above one job's run time (a page, a
 * 192-chunk slice, a discovery: seconds) plus the queue's retries with backoff (at most
 * 5 retries, 300 s apart at most), so work in progress is not re-sent. Per-run caps keep
 * one cron invocation inside D1's 1,000 queries.
 */
export const SWEEPER = { stuckAfterMs: 30 * 60 * 1000, maxPerKindPerRun: 100, maxExpiredIdempotencyKeysPerRun: 1000 } as const;
/** https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#bucket-method-definitions : delete() takes up to 1000 keys. */
export const R2_MAX_DELETE_KEYS = 1000;

// --- Product ------------------------------------------------------------------------------
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;
/** scrypt N=2^14, r=8, p=1 (OWASP minimum): 16 MiB of memory per hash, well inside a 128 MB isolate. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;
export const PASSWORD_RESET_TTL_MS = 30 * 60 * 1000;
export const EMAIL_VERIFY_TTL_MS = 48 * 60 * 60 * 1000;
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Mail jobs carry the sealed text in the queue message (QUEUES.maxMessageBytes, 128 KB):
 * 16,000 characters are at most 64 KB of UTF-8, ~86 KB once encrypted and base64-encoded.
 * Our mails are a few hundred characters. A provider that has not answered in 10 s is
 * treated as down and retried with the job's backoff.
 */
/**
 * Product: mail sizes and delivery. `lostAfterMs`: a mail still `queued` this long after it was
 * written lost its queue message (five retries back off at most 300 s each, then the dead-letter
 * queue marks it failed); its text is sealed in that message only, so the sweeper can only mark
 * it failed. The tokens it carried expire long before (a reset token lives 30 minutes).
 */
export const MAIL = { maxTextChars: 16_000, maxSubjectChars: 300, providerTimeoutMs: 10_000, lostAfterMs: 6 * 60 * 60 * 1000 } as const;
export const RATE_LIMIT_WINDOW_SECONDS = 60;
/**
 * Slices per sliding window in the RateLimiter Durable Object: bounds its storage to ~60
 * rows per key and makes it deny at most window/60 early (never admit late).
 */
export const RATE_LIMIT_GRANULES_PER_WINDOW = 60;

// --- Vector index (src/vector) and embeddings (src/ai)------------------------------------------------
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
/**
 * Product: the chunk sizes a bot may choose, inside the chunker's CHUNKING range; the overlap is
 * further held to CHUNKING.maxOverlapRatio of the chosen size.
 */
export const BOT_CHUNKING = { minChunkTokens: 64, maxChunkTokens: 2000, maxOverlapTokens: 500 } as const;
/** RFC 9309 §2.5: crawlers must parse at least 500 KiB of robots.txt and may ignore the rest. */
export const ROBOTS_TXT_MAX_BYTES = 500 * 1024;
/** https://www.sitemaps.org/protocol.html : at most 50,000 URLs and 50 MB (uncompressed) per file. */
export const SITEMAP_MAX_URLS = 50_000;
/**
 * Product: a sitemap is inflated (gzip) as a stream and given up as invalid past this size. Below
 * the protocol's 50 MB because the bytes and their decoded text must both fit in a 128 MB
 * isolate with room to spare; 10 MiB still holds 50,000 entries of ~200 bytes. A gzip bomb
 * stops here instead of at the size its trailer claims (up to 4 GiB).
 */
export const SITEMAP_MAX_INFLATED_BYTES = 10 * 1024 * 1024;
/** Product: text kept from one crawled page; more is almost always generated noise. */
export const WEB_PAGE_MAX_TEXT_CHARS = 2_000_000;
/** Product: JSON uploads are flattened to "path: value" lines down to this depth; deeper
 * subtrees are written inline as JSON, cut at EXTRACTION_INLINE_JSON_MAX_CHARS. */
export const EXTRACTION_JSON_MAX_DEPTH = 12;
export const EXTRACTION_INLINE_JSON_MAX_CHARS = 1000;

// --- Workers, D1-derived and R2 platform bounds -----------------------------------------------
/**
 * https://developers.cloudflare.com/workers/platform/limits/#request-limits : request bodies
 * up to 100 MB on Free and Pro zones; configured body limits may not exceed it.
 */
export const WORKERS_MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024;
/** https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#r2listoptions : at most 1,000 keys per list call. */
export const R2_LIST_MAX_KEYS = 1000;

// --- HTTP ---------------------------------------------------------------------------------------
/** Product: room for multipart boundaries and part headers on top of the configured upload size. */
export const MULTIPART_OVERHEAD_BYTES = 256 * 1024;
/** Product: files per upload request; each becomes a source, and all are checked before any is stored. */
export const MAX_FILES_PER_UPLOAD = 20;

// --- Chat protocols (src/features/chat/protocols: OpenAI, Chatbase, AI SDK bodies) ---------------
/**
 * Product: the client-held histories these protocols resend on every turn. The pipeline uses
 * only the most recent few; these bound what a body may carry at all (besides the 1 MiB body
 * limit) so parsing one is cheap:
 * - `maxClientMessages`: messages in one body (a long chat resends a few hundred; more is abuse).
 * - `maxClientMessageChars`: one earlier message (assistant answers can be long; the new user
 *   message has the pipeline's own, lower, CHAT_MAX_MESSAGE_CHARS limit).
 * - `maxContentParts`: content parts / UIMessage parts of one message.
 * - `maxClientChatIdChars`: the AI SDK chat id kept as `conversations.client_ref`.
 * - `maxModelsListed`: bots in GET /v1/models (OpenAI's list is not paginated).
 */
export const CHAT_PROTOCOLS = {
  maxClientMessages: 500,
  maxClientMessageChars: 100_000,
  maxContentParts: 100,
  maxClientChatIdChars: 200,
  maxModelsListed: 1_000,
} as const;

// --- Auth and API keys -----------------------------------------------------------------------------
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits). */
export const MIN_JWT_SECRET_BYTES = 32;
/** Product: last_used_at is a hint, not a log; written at most this often per key. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;
/**
 * Product: how long an isolate trusts a verified API key without reading D1 again. It bounds how
 * long a revoked key keeps working in the isolates that did not handle the revocation.
 */
export const KEY_CACHE_TTL_MS = 10_000;
/** Memory: verified keys cached per isolate (a few hundred bytes each). */
export const KEY_CACHE_MAX_ENTRIES = 5_000;
/** Product: how often the OIDC JWKS may be refetched for an unknown `kid`, and how long it is cached. */
export const OIDC_JWKS_COOLDOWN_MS = 30_000;
export const OIDC_JWKS_CACHE_MAX_AGE_MS = 600_000;
/** Memory: an issuer's JWKS is a few KiB; a larger answer is refused by the egress guard. */
export const OIDC_JWKS_MAX_BYTES = 1024 * 1024;

// --- Rate-limit leases (src/http/middleware/rate-limit.ts) ---------------------------------------
/** Product: how long an isolate may spend a lease of admissions before asking the RateLimiter again. */
export const LEASE_HOLD_MS = 1000;
/** Product: a lease takes at most 1/LEASE_FRACTION of a key's limit, so one isolate can't starve others. */
export const LEASE_FRACTION = 20;
/** Memory: rate-limit keys an isolate keeps lease state for. */
export const MAX_TRACKED_KEYS = 10_000;

// --- Jobs -------------------------------------------------------------------------------------------
/** Product: queue retries back off exponentially up to this delay (well under QUEUES.maxDelaySeconds). */
export const JOB_MAX_BACKOFF_SECONDS = 300;

// --- Knowledge: sources, crawling and indexing ---------------------------------------------------
/**
 * Product: a pasted text source. The JSON body limit of source creation
 * (SOURCE_CREATE_MAX_BODY_BYTES) is sized so this many characters fit.
 */
export const TEXT_SOURCE_MAX_CHARS = 2_000_000;
/** Product: Q&A pairs in one Q&A source. */
export const QA_SOURCE_MAX_PAIRS = 5000;
/**
 * The JSON body limit for creating a source, sized so any text of TEXT_SOURCE_MAX_CHARS fits
 * however it is encoded: zod counts UTF-16 code units, and one code unit takes at most 6 bytes
 * of JSON (a `\u00XX` escape; UTF-8 needs at most 3 bytes per code unit), plus 64 KiB for the
 * other fields. Every other JSON route keeps the configured MAX_BODY_BYTES.
 */
export const SOURCE_CREATE_MAX_BODY_BYTES = 6 * TEXT_SOURCE_MAX_CHARS + 64 * 1024;
/** Product: the most a website source may ask for; the operator's CRAWL_MAX_PAGES can lower it. */
export const WEBSITE_MAX_PAGES = 10_000;
/** Product: maxPages when the request names none (lowered to CRAWL_MAX_PAGES if that is smaller). */
export const WEBSITE_DEFAULT_MAX_PAGES = 50;
export const WEBSITE_MAX_DEPTH = 20;
/** Product: include and exclude patterns per website source. */
export const WEBSITE_MAX_PATTERNS = 50;
/** Product: sitemaps read per website (robots.txt entries and the default location together). */
export const MAX_SITEMAPS = 5;
/**
 * CPU and subrequests: chunk positions embedded and written per indexing job, so a large
 * document is indexed over several queue messages.
 */
export const INDEX_SLICE = 192;
/** Product: characters of a document's text shown as its preview. */
export const DOCUMENT_PREVIEW_CHARS = 500;
/** CPU and subrequests: documents removed per purge job. */
export const DOCUMENTS_PER_PURGE = 50;
// --- Egress (src/egress) -----------------------------------------------------------------
/**
 * Product: the egress guard. Redirect hops: the fetch standard allows 20; a crawled page or a
 * provider needs one or two, and each hop costs a subrequest and a fresh check.
 * Timeouts and the crawler's page cap (5 MiB) bound time and memory per request inside a
 * 128 MB isolate. A provider's embeddings response is capped at 32 MiB: a full batch of 192
 * chunks × 1536 floats as JSON text is ~6 MB, so a provider sending more is misbehaving.
 */
export const EGRESS = {
  maxRedirects: 5,
  defaultTimeoutMs: 30_000,
  crawlTimeoutMs: 15_000,
  crawlMaxResponseBytes: 5 * 1024 * 1024,
  providerTimeoutMs: 60_000,
  providerMaxResponseBytes: 32 * 1024 * 1024,
} as const;
/**
 * Product: a .docx whose document part declares or actually inflates beyond this is refused (zip
 * bomb guard, checked while inflating). The XML, its decoded string and the rendered text must
 * fit together in a 128 MB isolate; 16 MiB of WordprocessingML is thousands of pages.
 */
export const EXTRACTION_DOCX_MAX_XML_BYTES = 16 * 1024 * 1024;

// --- Knowledge: untrusted patterns and documents (issue #6) -----------------------------------
/**
 * Product: wildcards (`*`, a run counting once) in one crawl include/exclude glob or robots.txt
 * rule. The matcher is linear either way; the cap keeps a pattern's cost per URL small and
 * predictable. Real robots.txt rules use one or two. A tenant glob over the cap is refused (422);
 * a robots.txt Disallow over it is cut to its first N wildcards (it then blocks more, never less)
 * and an Allow over it is dropped (it then allows less, never more).
 */
export const WILDCARD_MAX_PER_PATTERN = 10;
/**
 * Product: extracted text per document (UTF-16 code units). A document over it fails with a clear
 * reason rather than being cut (a silently partial manual answers wrongly); 4M characters is
 * ~1,000 dense pages, and the text, its chunks and their stored copy stay far inside 128 MB.
 */
export const EXTRACTION_MAX_TEXT_CHARS = 4_000_000;
/** Product: PDF pages read per document; checked before any page is parsed. */
export const EXTRACTION_PDF_MAX_PAGES = 2_000;

// --- Retries and quotas (http/middleware/idempotency.ts, features/usage) --------------------
/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a key is remembered for 24 h,
 * like Stripe's, long enough for any client retry loop; keys are 1–255 printable ASCII chars.
 */
export const IDEMPOTENCY = {
  ttlMs: 24 * 60 * 60 * 1000,
  maxKeyLength: 255,
  /**
   * A request still "in progress" after this long died without answering (an isolate can run a
   * request for at most a few minutes of wall time with a 5 min CPU cap): its key is taken over.
   */
  abandonedAfterMs: 10 * 60 * 1000,
  /** Responses larger than this are not kept (D1 rows are ≤ 2 MB); creating routes answer far less. */
  maxStoredBodyBytes: 512 * 1024,
} as const;
/** Window of the daily quotas (crawled pages, uploaded bytes): a sliding 24 h, not a calendar day. */
export const QUOTA_DAY_SECONDS = 24 * 60 * 60;

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
 * Query terms (words, or trigrams of scripts written without spaces) a keyword search and the
 * term statistics use: every term is one bound parameter, and D1 allows 100 per statement.
 */
export const KEYWORD_MAX_QUERY_TERMS = 32;

/**
 * Reranking through the common `/rerank` API (Cohere, Jina, Voyage, vLLM, TEI, Infinity).
 * A reranker sits on the search path, so it gets a short budget: past `timeoutMs` the search
 * answers in fused order. `maxDocuments` bounds the payload (Cohere accepts up to 1,000, but a
 * cross-encoder's cost grows with every candidate and only the head of the list matters);
 * `maxDocumentChars` keeps a request near 50 × 4 KB; `maxResponseBytes` caps what we read back.
 * `defaultRelevantAt`: the reranker score taken to mean "relevant" (relevance 0.5, chat's
 * abstention line) unless the org says otherwise; see rerankRelevance.
 */
export const RERANK = {
  timeoutMs: 4_000,
  defaultRelevantAt: 0.5,
  defaultTopN: 20,
  maxDocuments: 50,
  maxDocumentChars: 4_000,
  maxResponseBytes: 256 * 1024,
} as const;

// --- Live conversations (WebSocket rooms, issue #8) ---------------------------------------
/**
 * ConversationRoom (src/durable/ConversationRoom.ts) and its protocol.
 * - `frameOverheadChars`: a client frame is one JSON object; the longest legal one is a message
 *   at the chat length limit (config `chat.maxMessageChars`) with every character escaped, plus
 *   this much for the other fields. Larger frames are refused before JSON.parse, so a hostile
 *   client cannot make the object parse megabytes.
 * - `maxSockets`: per room. Cloudflare allows 32,768 hibernatable sockets per object
 *   (https://developers.cloudflare.com/durable-objects/platform/limits/); one conversation needs
 *   a few visitor tabs and a team, and every broadcast costs one send per socket.
 * - `framesPerMinute`: per socket, counted in memory (resets when the object hibernates, i.e.
 *   when the room was idle anyway). Typing indicators are throttled separately (`typingEveryMs`).
 * - `catchUpMaxMessages`: one `resume` answers at most this many stored messages; the client
 *   resumes again from the last one it got (`resumed.hasMore`).
 * - `inflightMaxChars`: the streamed-so-far text kept per in-flight answer for catch-up. An answer
 *   is bounded by the bot's maxTokens long before this; past it, catch-up sends what was kept and
 *   the stored message completes it. `maxInflightTurns` bounds the answers tracked at once
 *   (a WebSocket turn plus REST turns published into the room).
 * - `pendingFramesPerSocket`: live frames held for a socket while its catch-up reads D1; a socket
 *   that falls further behind is closed (1013, try again) rather than holding unbounded memory.
 * - `catchUpMaxConfirmations` (issue #11): pending action confirmations a catch-up repeats. A turn
 *   pauses on one at a time and each expires (ACTIONS.confirmationTtlMs), so more than a few pending
 *   at once means unanswered turns piling up; the newest ten bound the read and the frames.
 */
/**
 * Turns run over HTTP (REST, SSE, useChat, Chatbase, OpenAI) are mirrored into the room
 * (features/chat/live/room-mirror.ts): one publish call in flight at a time, tokens coalesced
 * while it is. `idleFlushMs`: while the room reports no socket, streamed text goes out at most
 * this often (messages at once), so a turn nobody watches costs about one call a second of
 * streaming, and someone joining mid-answer still catches up within this delay.
 */
export const LIVE_MIRROR = {
  idleFlushMs: 1_000,
} as const;

export const LIVE_ROOM = {
  frameOverheadChars: 1_024,
  maxSockets: 100,
  framesPerMinute: 120,
  typingEveryMs: 1_000,
  catchUpMaxMessages: 200,
  inflightMaxChars: 200_000,
  maxInflightTurns: 4,
  pendingFramesPerSocket: 2_000,
  catchUpMaxConfirmations: 10,
} as const;
// --- Chat (issue #8: src/features/chat) ------------------------------------------------------
/**
 * Product: the answer pipeline.
 * - `defaultMaxMessageChars`: a user message (the default; CHAT_MAX_MESSAGE_CHARS tunes it
 *   up to `maxMessageCharsCeiling`, which also bounds the request schema: a turn is a question, not
 *   a document; documents go in as sources or attachments).
 * - `defaultPromptBudgetTokens`: cl100k_base tokens of the prompt (instructions, sources, summary,
 *   history, question), leaving the bot's maxTokens for the answer inside an 8k-context model, the
 *   smallest common size (llama.cpp / Ollama defaults). CHAT_PROMPT_BUDGET_TOKENS tunes it.
 * - `sourcesBudgetShare` / `attachmentsBudgetShare` / `summaryBudgetShare`: the most of the budget
 *   retrieved sources, attachment text and the summary may take, so history always keeps room.
 * - `historyMessagesRead`: stored messages read back per turn (newest first): bounds D1 reads and
 *   tokenizer CPU however long a conversation grows; older ones live on in the summary.
 * - `clientHistoryMessages`: the most messages of a client-held history (OpenAI / Chatbase bodies) used.
 * - `summaryMaxChars`: a stored summary; `titleMaxChars`: an automatic title.
 * - `maxFallbackModels`: a bot's ordered model fallback list.
 * - `answerCacheMaxTtlSeconds`: a week; knowledge changes reach the cache key through retrieved
 *   chunk ids, but instructions outside the bot (org settings) do not.
 * - `answerCacheSweepPerRun`: expired cache rows the cron sweeper deletes per run (D1 query budget).
 * - `maxAnswerChars`: a model that keeps streaming is cut here (memory, and D1 rows are ≤ 2 MB);
 *   32,000 tokens, the largest maxTokens a bot may set, are ~130,000 characters of English.
 */
export const CHAT = {
  defaultMaxMessageChars: 4_000,
  maxMessageCharsCeiling: 100_000,
  defaultPromptBudgetTokens: 6_000,
  minPromptBudgetTokens: 256,
  sourcesBudgetShare: 0.6,
  attachmentsBudgetShare: 0.25,
  summaryBudgetShare: 0.15,
  historyMessagesRead: 40,
  clientHistoryMessages: 40,
  summaryMaxChars: 2_000,
  titleMaxChars: 60,
  maxFallbackModels: 5,
  answerCacheMaxTtlSeconds: 7 * 24 * 60 * 60,
  answerCacheSweepPerRun: 1_000,
  maxAnswerChars: 200_000,
} as const;
/** Product: said when retrieval finds nothing relevant and the bot has no fallbackMessage of its own. */
export const DEFAULT_FALLBACK_MESSAGE =
  "I'm sorry, I couldn't find anything about that in my knowledge. Could you rephrase the question, or ask about something else?";
export const BOT_FALLBACK_MESSAGE_MAX_CHARS = 2_000;
/** Window of the monthly message quota: a sliding 30 days, like the daily quotas' sliding 24 h. */
export const QUOTA_MONTH_SECONDS = 30 * 24 * 60 * 60;
// --- Chat models (src/ai: openai-chat-model, pii, offline-answerer) ---------------------------
/**
 * Product: one chat completion. `firstTokenTimeoutMs` covers connecting and the model's
 * thinking before the first delta: a visitor staring at nothing for 20 s is better served by the
 * next model in the fallback list. `totalTimeoutMs` bounds the whole streamed answer (800 tokens
 * at a slow 10 tokens/s is 80 s). `maxResponseBytes` caps what we read: an SSE chunk of a token
 * is ~200 bytes, so 4 MiB is ~20,000 deltas, far past any max_tokens a bot may set.
 * Retries (429/408/5xx/network, honouring Retry-After) happen only before the first delta and
 * wait at most `maxRetryAfterMs` inline: a visitor is waiting, unlike a queue job.
 */
export const CHAT_MODEL = {
  firstTokenTimeoutMs: 20_000,
  totalTimeoutMs: 90_000,
  maxResponseBytes: 4 * 1024 * 1024,
  maxAttempts: 3,
  maxRetryAfterMs: 10_000,
  /** Tool calls kept from one model response, and characters of one call's arguments (issue #11). */
  maxToolCalls: 16,
  maxToolArgumentsChars: 32 * 1024,
} as const;
/**
 * Product: the offline extractive answer. ~400 characters reads as "a few sentences" (the chat
 * issue's target median); a single sentence longer than `maxSentenceChars` is cut at a word
 * boundary rather than quoting a whole chunk. `maxSourceChars`, `maxSources` and
 * `maxQuestionTerms` bound the work (scoring is linear in source text × question terms)
 * whatever a caller passes.
 */
export const OFFLINE_ANSWER = {
  targetChars: 400,
  maxSentences: 3,
  maxSentenceChars: 240,
  maxSourceChars: 20_000,
  maxSources: 20,
  /** Distinct question terms (words, or bigrams without spaces) scored: a 4,000-character question stays cheap. */
  maxQuestionTerms: 64,
} as const;
/**
 * Product: PII pseudonymization. Text scanned per request is bounded by the prompt budget; the
 * cap is a backstop so a hostile caller cannot make the scanner the expensive part.
 * `maxPlaceholderChars` is the longest «KIND_n» we hold back while streaming (buffering only
 * what could still become a placeholder).
 */
export const PII = {
  maxScanChars: 2_000_000,
  maxPlaceholderChars: 24,
} as const;
// --- Conversations and chat attachments (issue #8) ----------------------------------------
/**
 * Product: a conversation title (automatic or renamed) is a list label, not a document; 200
 * characters is more than any inbox shows.
 */
export const CONVERSATION_TITLE_MAX_CHARS = 200;
/**
 * Product: conversation search. `maxQueryChars` bounds what a query may be before it is cut
 * into at most KEYWORD_MAX_QUERY_TERMS terms; `snippetTokens` is FTS5 snippet()'s window
 * (FTS5 allows at most 64).
 */
export const CONVERSATION_SEARCH = { maxQueryChars: 1000, snippetTokens: 24 } as const;
/**
 * Product: files sent with chat messages (issue #8 "Attachments": the knowledge issue's types,
 * up to 10 MB). `maxPerMessage` bounds the context one turn drags in; `maxNameChars` bounds a
 * file name, which is caller-chosen and ends up in the model's prompt. An upload nobody claims
 * within `unclaimedTtlMs` is deleted by the cron sweeper (with its R2 objects), at most
 * `sweepPerRun` per run to stay inside one invocation's D1 and R2 budget. `maxContextFiles`
 * bounds how many of a conversation's files attachmentContext() reads.
 */
export const ATTACHMENTS = {
  maxBytes: 10 * 1024 * 1024,
  maxPerMessage: 5,
  maxNameChars: 200,
  unclaimedTtlMs: 24 * 60 * 60 * 1000,
  sweepPerRun: 100,
  maxContextFiles: 20,
} as const;
// --- Widget server side: feedback and leads (issue #9) -------------------------------------
/**
 * Product: message feedback. `maxCommentChars` (issue #9 slice brief): a thumbs-down comment is
 * a sentence or two, and visitors are anonymous, so the bound keeps one rating from being a
 * storage or moderation burden. `maxListed` bounds GET .../feedback: one row per member or
 * visitor who rated that one message, far above any real count, so the answer stays one page.
 */
export const FEEDBACK = { maxCommentChars: 1000, maxListed: 500 } as const;
/**
 * Product: leads. `maxNameChars` a person's name as a form takes it; `maxEmailChars` is RFC 5321's
 * path limit (254 usable characters) with `maxEmailLocalChars` its 64-octet local part;
 * `phoneDigits` is E.164's at most 15 digits, at least 6 (the shortest national numbers plus a
 * country code). `maxQueryChars` bounds the `q` substring filter. `csvMaxRows` bounds one CSV
 * export so it stays inside one invocation's memory and D1 query budget (`csvPageRows` per query,
 * so 20 queries); a larger export is a 422 asking for a narrower from/to or botId, never a
 * silent cut.
 */
export const LEADS = {
  maxNameChars: 200,
  maxEmailChars: 254,
  maxEmailLocalChars: 64,
  phoneDigits: { min: 6, max: 15 },
  maxVisitorIdChars: 128,
  maxQueryChars: 200,
  csvMaxRows: 10_000,
  csvPageRows: 500,
} as const;

// --- Widget visitors (issue #9: src/features/widget, src/http/middleware/widget.ts) ---------------
/**
 * Product: the public widget's visitor sessions and identity verification.
 * - `visitorTokenTtlSeconds`: a visitor token (JWT) lives an hour; the widget asks for a new one
 *   with its stored visitor id, so a leaked token is worth little and a bot switched to private or
 *   an origin removed stops working within the hour even for a token that is never re-checked
 *   (every request re-checks both anyway).
 * - `identityGraceMs`: after a rotation the previous identity secret still verifies for 24 h, long
 *   enough for a host to deploy the new secret without logging its users out mid-day.
 * - `maxUserIdChars`: a host's user id (HMAC-signed by the host; stored as conversations.user_id).
 *   255 fits UUIDs, emails and most providers' subject ids; longer is refused, not cut.
 * - `maxOriginChars`: an Origin header longer than the longest allowed-origin entry the bots API
 *   accepts (200) can never match, so it is refused before parsing.
 * - `maxVisitorIdChars`: a client-sent visitor id longer than this is treated as malformed (a new
 *   id is issued); real ones are `vis_` + 26 characters.
 * - `defaultVisitorRequestsPerMinute` (WIDGET_VISITOR_RATE_LIMIT): every token-bearing widget
 *   request of one visitor id. A person types a message every few seconds at most; one page load
 *   costs ~4 requests (config, session, conversations, messages), so 60 leaves room for browsing.
 * - `defaultIpRequestsPerMinute` (WIDGET_IP_RATE_LIMIT): every widget request from one client IP,
 *   sessions included, because a new session mints a new visitor id (and so a fresh per-visitor
 *   budget). Higher than per visitor because offices and mobile carriers put many people behind
 *   one address.
 */
export const WIDGET = {
  visitorTokenTtlSeconds: 60 * 60,
  identityGraceMs: 24 * 60 * 60 * 1000,
  maxUserIdChars: 255,
  maxOriginChars: 200,
  maxVisitorIdChars: 64,
  defaultVisitorRequestsPerMinute: 60,
  defaultIpRequestsPerMinute: 300,
  /** Preflight answers are cached by the browser this long (Chromium caps it at 7200 s). */
  preflightMaxAgeSeconds: 600,
} as const;
// --- Widget settings (issue #9, server side) ----------------------------------------------
/**
 * Product: what the widget's settings may hold. Every text is shown to visitors on someone
 * else's page and sent with every config fetch, so each is bounded to what a chat panel can show:
 * a header title (80), a greeting bubble (500, at most 5), suggestion chips (200, at most 6), an
 * input placeholder (120). `avatarUrlMaxChars` is the common URL ceiling browsers and CDNs
 * accept (2,048). `configMaxAgeSeconds`: the public config is cached by browsers and edges this
 * long (issue #9), so a settings change reaches visitors within a minute while a busy page
 * costs one config read per visitor per minute at most.
 */
export const WIDGET_SETTINGS = {
  titleMaxChars: 80,
  initialMessagesMax: 5,
  initialMessageMaxChars: 500,
  suggestedQuestionsMax: 6,
  suggestedQuestionMaxChars: 200,
  placeholderMaxChars: 120,
  avatarUrlMaxChars: 2048,
  configMaxAgeSeconds: 60,
} as const;
// --- Inbound webhooks (issue #11, integrations) --------------------------------------------
/**
 * - `maxBodyBytes`: a received body is read as a stream and dropped past this (413). 1 MiB holds
 *   a long article or a few thousand Q&A pairs; the verified payload waits in a D1 row until it is
 *   processed (rows ≤ 2 MB, https://developers.cloudflare.com/d1/platform/limits/). Larger
 *   knowledge goes through the sources API (SOURCE_CREATE_MAX_BODY_BYTES).
 * - `timestampToleranceSeconds`: the Standard Webhooks library's fixed window (5 minutes, both
 *   ways); a message older than that is refused, so the replay guard only needs ids that young.
 * - `secretGraceMs`: after a rotation the previous secret still verifies for 24 h, like the widget's
 *   identity secret, so the sender can deploy the new one without dropped events.
 * - `slugBytes`: the URL's random part, 256 bits (≥ 128 asked), base64url.
 * - `requestsPerMinutePerIntegration`: one URL's receive rate; bounds how fast a leaked URL can
 *   fill the log with rejected requests. A CMS or helpdesk sends far less.
 * - `logRetentionMs`: received events are kept 30 days (the log is for debugging a sender), then
 *   the cron sweeper deletes them, at most `maxSweptPerRun` per run (D1's 1,000 queries).
 * - `maxWebhookIdChars` / `maxSignatureHeaderChars`: header sizes worth checking; longer is malformed.
 * - Payload fields: `maxTitleChars` as source titles (300), `maxReplyChars` as a chat message.
 */
export const INBOUND_WEBHOOKS = {
  maxBodyBytes: 1024 * 1024,
  timestampToleranceSeconds: 5 * 60,
  secretGraceMs: 24 * 60 * 60 * 1000,
  slugBytes: 32,
  requestsPerMinutePerIntegration: 600,
  logRetentionMs: 30 * 24 * 60 * 60 * 1000,
  maxSweptPerRun: 500,
  maxWebhookIdChars: 256,
  maxSignatureHeaderChars: 2048,
  maxExternalIdChars: 256,
  maxTitleChars: 300,
  maxReplyChars: 8000,
  maxAuthorChars: 120,
  maxNameChars: 100,
} as const;

// --- Widget client (issue #9: widget/, scripts/build-widget.mjs, src/features/widget/script-route.ts)
/**
 * Product: the embeddable script and what it accepts.
 * - `bundleGzipBudgetBytes`: issue #9's size budget ("the gzipped bundle stays under 20 KB"):
 *   the script loads on every page of a customer's site, so the build fails at or above it.
 * - `scriptMaxAgeSeconds`: `/widget.js` is the unversioned URL customers paste once, so browsers
 *   and edges recheck it every 5 minutes (a release reaches visitors within minutes, a busy page
 *   costs one revalidation per visitor per 5 minutes); `/widget/v/{version}/widget.js` never
 *   changes and is cached for a year (RFC 9111 `immutable`).
 * - `markdownMaxChars`: the longest answer text the widget parses as markdown; the rest is shown
 *   as plain text. Far above any answer (CHAT max tokens), it bounds the work a hostile or broken
 *   stream can cause: the parser is linear, and it re-runs once per animation frame while streaming.
 * - `emphasisMaxDepth`: nested bold/italic deeper than this stays literal, so the DOM builder's
 *   recursion is bounded whatever the text.
 * - `sseMaxBufferedChars`: an event stream line longer than this is dropped (the server's events
 *   are one token or one message, a few KB), so a broken stream cannot grow memory without end.
 * - `tokenRenewBeforeMs`: a visitor token (WIDGET.visitorTokenTtlSeconds) is renewed this long
 *   before it expires, so a request never leaves with a token about to lapse in flight.
 * - `historyPageSize`: messages shown when a conversation is resumed (the latest ones).
 */
export const WIDGET_CLIENT = {
  bundleGzipBudgetBytes: 20 * 1024,
  scriptMaxAgeSeconds: 300,
  versionedMaxAgeSeconds: 31_536_000,
  markdownMaxChars: 40_000,
  emphasisMaxDepth: 8,
  sseMaxBufferedChars: 1_000_000,
  tokenRenewBeforeMs: 60_000,
  historyPageSize: 50,
  // The visitor's live socket (widget/src/live.ts). Product choices: reconnect from 1 s doubling to
  // 30 s (jittered by half, so a Worker restart does not get every widget back at once); close
  // after 10 minutes with no frame either way (an idle tab holds no room socket); `typing` at most
  // every 3 s (the room relays at most one a second per socket anyway, LIVE_ROOM.typingEveryMs);
  // a team member's typing indicator disappears 6 s after their last `typing`.
  liveReconnectBaseMs: 1_000,
  liveReconnectMaxMs: 30_000,
  liveIdleMs: 10 * 60_000,
  liveTypingEveryMs: 3_000,
  liveTypingShownMs: 6_000,
  // An action confirmation card (widget/src/confirm.ts; issue #11): the arguments are model output,
  // up to ACTIONS.maxArgumentsBytes. The card shows a one-line summary a person can read at a glance
  // (product choice: ~2 lines of the 380 px panel), each value cut at 60 characters so one long
  // field cannot push the others out; the action name is the definition's (at most 64 characters).
  confirmSummaryMaxChars: 160,
  confirmValueMaxChars: 60,
  confirmActionMaxChars: 64,
} as const;

// --- Outbound webhooks (src/features/webhooks) ------------------------------------------------
/**
 * Product: outbound webhook delivery.
 * - `retryDelaysSeconds`: the wait after each failed attempt (then ±`jitterRatio`), so 10 attempts
 *   spread over ~23.6 h: 5 s, 20 s, 80 s, ~5 min, ~21 min, ~85 min, ~5.7 h, 8 h, 8 h. Each delay is a
 *   queue delaySeconds, under QUEUES.maxDelaySeconds (12 h).
 * - `retryAfterMin/MaxSeconds`: a receiver's Retry-After is honoured within these bounds (the
 *   ceiling is the queue's delay limit; the floor keeps a `Retry-After: 0` from spinning).
 * - `timeoutMs`: a receiver gets 10 s (Standard Webhooks suggests "a few seconds"; Stripe waits 10 s).
 * - `maxResponseBytes`: we read at most this much of an answer; `maxStoredResponseBytes` (2 KB) is kept.
 * - `disableAfterFailedDeliveries`: consecutive deliveries that exhausted their retries (about a day
 *   each) before the endpoint is disabled and the owners are mailed; any 2xx resets the count.
 * - `previousSecretGraceMs`: after a rotation the old secret keeps signing alongside the new one for 24 h.
 * - `publishBatch`: outbox events fanned out per publish job (each with up to `maxEndpointsPerOrg`
 *   deliveries, inserted 7 rows per statement under D1's 100 bound parameters).
 * - `orderWaitSeconds`: how long a delivery waits before looking again when an earlier event of
 *   its conversation is still pending to the same endpoint (the earlier one also wakes it when done).
 * - `leaseMs`: an attempt claims its delivery this long; a crashed attempt is retried after it.
 * - `sweepAfterMs`: the cron sweeper publishes events and re-sends deliveries whose queue message
 *   was lost once they are this overdue.
 * - `endpointPresenceTtlMs` / `endpointPresenceMaxOrgs`: an isolate remembers whether an org has
 *   an enabled endpoint this long (for at most this many orgs), so an org without webhooks costs
 *   no publish job per event (events.publishSoon); a stale "none" only defers a new endpoint's
 *   first deliveries to the sweeper.
 */
export const WEBHOOKS = {
  retryDelaysSeconds: [5, 20, 80, 320, 1280, 5120, 20_480, 28_800, 28_800] as readonly number[],
  jitterRatio: 0.2,
  retryAfterMinSeconds: 1,
  retryAfterMaxSeconds: 12 * 60 * 60,
  timeoutMs: 10_000,
  maxResponseBytes: 64 * 1024,
  maxStoredResponseBytes: 2048,
  disableAfterFailedDeliveries: 5,
  previousSecretGraceMs: 24 * 60 * 60 * 1000,
  publishBatch: 100,
  maxEndpointsPerOrg: 20,
  maxEventTypesPerEndpoint: 50,
  maxDescriptionChars: 500,
  maxUrlChars: 2048,
  orderWaitSeconds: 5,
  leaseMs: 60_000,
  sweepAfterMs: 60_000,
  sweepPerRun: 200,
  endpointPresenceTtlMs: 30_000,
  endpointPresenceMaxOrgs: 10_000,
} as const;

// --- Actions and the tool-call loop (issue #11: src/features/actions, chat/tool-loop) ----------
/**
 * Product: actions a bot may call as tools.
 * - `maxPerOrg`: actions an org may define; `maxToolsPerTurn`: tools offered to the model in one
 *   turn (OpenAI accepts up to 128 functions; every definition costs prompt tokens).
 * - `maxNameChars` is OpenAI's function-name limit (^[a-zA-Z0-9_-]{1,64}$); `maxDescriptionChars`
 *   OpenAI's function description limit (1,024).
 * - `maxSchemaBytes` / `maxSchemaDepth` / `maxSchemaNodes`: a parameters schema is prompt text and is
 *   walked on every call; `maxPatternChars` bounds a `pattern` keyword (a regex the model's
 *   arguments run against: short patterns keep catastrophic backtracking cheap to spot).
 * - `maxArgumentsBytes`: the JSON arguments of one call (a model writing more is misbehaving).
 * - `maxTemplateBytes`: URL, header and body templates together; `maxHeaders` per action.
 * - `httpTimeoutMs`: an action is called while a visitor waits for the answer; `httpMaxResponseBytes`
 *   caps what is read (through the egress guard); `maxResultChars` is what the model is given back
 *   (prompt tokens) and `maxRecordedChars` what a run keeps of the request and response (D1 rows).
 * - `maxRoundsPerTurn`: model calls that may end in tool calls before the model must answer in
 *   text (one more call, without tools); `maxCallsPerRound`: parallel calls run at once (Workers
 *   allow 6 simultaneous connections; more calls in one round get an error result).
 * - `confirmationTtlMs`: a pending confirmation can be decided this long; later it is expired.
 * - `maxBotsPerAction`: botIds listed on one action (one IN list, under D1's 100 parameters).
 */
export const ACTIONS = {
  maxPerOrg: 200,
  maxToolsPerTurn: 32,
  maxNameChars: 64,
  maxDescriptionChars: 1024,
  maxSchemaBytes: 16 * 1024,
  maxSchemaDepth: 8,
  maxSchemaNodes: 500,
  maxPatternChars: 200,
  maxArgumentsBytes: 16 * 1024,
  maxTemplateBytes: 16 * 1024,
  maxHeaders: 20,
  httpTimeoutMs: 10_000,
  httpMaxResponseBytes: 256 * 1024,
  maxResultChars: 4_000,
  maxRecordedChars: 8_000,
  maxRoundsPerTurn: 4,
  maxCallsPerRound: 5,
  confirmationTtlMs: 15 * 60 * 1000,
  maxBotsPerAction: 50,
} as const;
// --- Human handoff, inbox, escalation tickets (issue #10) ---------------------------------
/**
 * Product: human handoff.
 * - `maxTriggerPhrases` / `maxTriggerPhraseChars`: a bot's own phrase list is matched against every
 *   visitor message before retrieval (substring of folded text), so it stays short: 50 phrases of
 *   at most 80 characters is ~4 KB of matching per message.
 * - `defaultFallbackTurns`: two "I don't know" answers in a row and a person is asked to join
 *   (issue #10 "the bot falls back N turns in a row"); `maxFallbackTurns` bounds the look-back read.
 * - `maxIntervals`: business hours are a weekly schedule; 28 covers four split shifts a day.
 * - `maxNoticeChars`: a notice to the visitor is a sentence or two, like the fallback message.
 * - `businessSearchDays`: how far ahead the next opening / SLA walk looks (8 days: a schedule with
 *   any interval opens within a week; more covers a DST shift).
 */
export const HANDOFF = {
  maxTriggerPhrases: 50,
  maxTriggerPhraseChars: 80,
  defaultFallbackTurns: 2,
  maxFallbackTurns: 10,
  maxIntervals: 28,
  maxNoticeChars: 500,
  businessSearchDays: 8,
} as const;
/**
 * Product: escalation tickets. `slaMinutes`: the time to resolution per priority, counted in the
 * bot's business hours (wall-clock when it has none), in line with common helpdesk defaults
 * (urgent 1 h, high 4 h, normal 1 business day of 8 h… here 24 h, low 3 days). Title, description
 * and comments are bounded to what a ticket view shows; `maxWatchers` bounds the mails one
 * transition sends (each a mail job).
 */
export const ESCALATION = {
  slaMinutes: { urgent: 60, high: 4 * 60, normal: 24 * 60, low: 72 * 60 },
  maxTitleChars: 200,
  maxDescriptionChars: 5000,
  maxCommentChars: 5000,
  maxWatchers: 20,
} as const;
/**
 * Product: the inbox and read markers. `maxWaitingSeconds` bounds the `waitingLongerThan` filter
 * (a year). `readsPerMinute`: read receipts over the room ride on the room's own frame limit
 * (LIVE_ROOM.framesPerMinute); each stores one upsert.
 */
export const INBOX = { maxWaitingSeconds: 365 * 24 * 60 * 60 } as const;

// --- Analytics (src/features/analytics) -----------------------------------------------------
/**
 * Product: analytics ranges and rollups.
 * - `maxRangeDays`: a year and a day; a longer range is a 400 (the series would be unreadable and
 *   the live part of a range without rollups would scan too much for one request).
 * - `defaultRangeDays`: the last 30 days when no range is given.
 * - `recomputeDays`: each cron run rebuilds the current UTC day's closed hours and the last N
 *   closed UTC days, so late events (a rating,
 *   a reply to a handoff, more visitor messages changing a conversation's sentiment) merge into
 *   their day for this long; after that a day is final unless an `analytics.rollup` job is sent for it.
 * - `maxOrgsPerCron`: orgs whose recent days one cron run enqueues (four messages each), well
 *   inside one invocation's 1,000 queries since enqueuing is batched.
 * - `maxSegments`: rolled-up and live runs one overview statement combines; more (a patchwork of
 *   built and unbuilt days) reads the whole range live, which is exact, only slower. Each run is
 *   two bound parameters and a copy of the facts query (the question list splits a rolled-up run
 *   into at most three: whole 7-day blocks and the days either side, six parameters), so this
 *   keeps statements under D1's 100 bound parameters and 100 KB.
 * - `topN`: rows in each top list; `maxNeverCited`: sources listed as never cited.
 * - `exactVisitorsUpTo`: unique visitors are an exact COUNT(DISTINCT) over the range's
 *   conversations up to this many (about 7 ms in local D1, measured with the analytics bench);
 *   above it they are estimated from per-day HyperLogLog sketches (≈1.6% standard error), since
 *   the exact count grows with the range (160 ms for 200,000 conversations).
 * - `maxLiveVisitorIds`: visitor ids of the live parts of a range (hour in progress, days not
 *   rolled up) the overview hashes into the sketch; more (many days not built yet) falls back to
 *   the exact count, which is slower but bounded by the range.
 */
export const ANALYTICS = {
  maxRangeDays: 366,
  defaultRangeDays: 30,
  recomputeDays: 3,
  maxOrgsPerCron: 1000,
  maxSegments: 12,
  topN: 20,
  maxNeverCited: 100,
  unansweredSamplesPerGroup: 5,
  exactVisitorsUpTo: 10_000,
  maxLiveVisitorIds: 20_000,
} as const;

/**
 * Model prices in USD per million tokens (input, output), by model name whatever the host,
 * from the providers' public price pages (https://openai.com/api/pricing/, checked 2026).
 * A model not listed has an unknown cost (null); its tokens are still counted. The offline
 * answerer costs nothing.
 */
export const MODEL_PRICES_USD_PER_MTOK: Readonly<Record<string, { input: number; output: number }>> = {
  extractive: { input: 0, output: 0 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
};

/**
 * Product: one Q&A pair, wherever one is written: a Q&A source's pairs, an inbound
 * knowledge.upsert, an improved answer (feedback review, unanswered questions).
 */
export const ANSWER_CORRECTION = { maxQuestionChars: 2000, maxAnswerChars: 20_000 } as const;
