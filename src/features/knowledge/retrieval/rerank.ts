/**
 * An optional rerank stage through the common `/rerank` API shape:
 *   POST {model, query, documents: string[], top_n} → {results: [{index, relevance_score}]}
 * spoken by Cohere, Jina, Voyage, vLLM, Text Embeddings Inference and Infinity.
 *
 * A reranker is an improvement, never a dependency: every failure (network, timeout, HTTP
 * error, malformed answer) comes back as `{ ok: false }` with a reason for the log, and the
 * caller keeps the fused order. The HTTP call goes through a `fetch`-shaped function: the egress
 * guard (src/egress, wired in retrieval-index.ts), which refuses special-purpose addresses and
 * re-checks every redirect.
 */
import { z } from 'zod';
import { EgressError } from '../../../egress';
import { RERANK } from '../../../limits';
import { readCapped } from '../../../lib/read-capped';

export interface RerankerConfig {
  /** The full endpoint, e.g. https://api.cohere.com/v2/rerank or http://tei:8080/rerank. */
  url: string;
  model: string;
  /** Fused candidates sent to the reranker. */
  topN: number;
  /** The score at which this reranker's hits count as relevant (rerankRelevance). */
  relevantAt: number;
}

/**
 * A reranker's score as calibrated relevance. Rerankers all answer in [0, 1], but not on one
 * scale: one model's 0.2 is another's 0.8, and Cohere advises picking a threshold per use case.
 * The org names the score at which a hit is relevant (`relevantAt`); it maps to 0.5 (chat's
 * abstention line, DEFAULT_ABSTAIN_RELEVANCE) and each side is stretched linearly, so 0 stays 0,
 * 1 stays 1, the order is kept, and at the default 0.5 the score is the relevance.
 */
export function rerankRelevance(score: number, relevantAt: number): number {
  const s = Math.min(1, Math.max(0, score));
  return s < relevantAt ? (0.5 * s) / relevantAt : 0.5 + (0.5 * (s - relevantAt)) / (1 - relevantAt);
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export type RerankOutcome =
  | { ok: true; scores: (number | undefined)[] }
  | { ok: false; reason: 'timeout' | 'network' | 'egress_refused' | 'http' | 'invalid_response'; detail: string };

const RerankResponse = z.object({
  results: z
    .array(z.object({ index: z.number().int().nonnegative(), relevance_score: z.number().finite() }))
    .max(RERANK.maxDocuments * 2),
});

/** Scores per input document (undefined for any the reranker left out), each clamped to [0, 1]. */
export async function rerank(
  fetchFn: FetchLike,
  config: RerankerConfig,
  apiKey: string | undefined,
  query: string,
  documents: readonly string[],
): Promise<RerankOutcome> {
  const docs = documents.slice(0, RERANK.maxDocuments).map((d) => d.slice(0, RERANK.maxDocumentChars));
  let res: Response;
  try {
    res = await fetchFn(config.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ model: config.model, query, documents: docs, top_n: docs.length }),
      signal: AbortSignal.timeout(RERANK.timeoutMs),
    });
  } catch (err) {
    if (err instanceof EgressError) {
      const reason = err.code === 'egress_timeout' ? 'timeout' : err.code === 'egress_response_too_large' ? 'invalid_response' : 'egress_refused';
      return { ok: false, reason, detail: `${err.code}: ${err.message}`.slice(0, 200) };
    }
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { ok: false, reason: timedOut ? 'timeout' : 'network', detail: err instanceof Error ? err.name : 'error' };
  }
  if (!res.ok) {
    await res.body?.cancel();
    return { ok: false, reason: 'http', detail: `HTTP ${res.status}` };
  }
  let body: unknown;
  try {
    body = JSON.parse(await readCappedText(res, RERANK.maxResponseBytes));
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    if (timedOut) return { ok: false, reason: 'timeout', detail: 'body' };
    return { ok: false, reason: 'invalid_response', detail: err instanceof Error ? err.message.slice(0, 120) : 'unreadable' };
  }
  const parsed = RerankResponse.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'invalid_response', detail: 'unexpected shape' };
  const scores: (number | undefined)[] = new Array(docs.length).fill(undefined);
  for (const { index, relevance_score } of parsed.data.results) {
    if (index >= docs.length) return { ok: false, reason: 'invalid_response', detail: `index ${index} out of range` };
    scores[index] = Math.min(1, Math.max(0, relevance_score));
  }
  return { ok: true, scores };
}

async function readCappedText(res: Response, max: number): Promise<string> {
  const read = await readCapped(res.body, max);
  if (!read.ok) throw new Error(`response larger than ${max} bytes`);
  return read.text;
}
