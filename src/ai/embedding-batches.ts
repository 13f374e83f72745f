/**
 * Splits embedding inputs into requests a provider accepts: at most N inputs and at most T
 * tokens per request. Batches are contiguous and in order, so results concatenate back
 * into input order.
 */

export interface BatchLimits {
  maxInputsPerRequest: number;
  maxTokensPerRequest: number;
}

/** Half-open ranges [start, end) over the inputs. */
export interface BatchRange {
  start: number;
  end: number;
  tokens: number;
}

/**
 * Greedy packing: a batch closes when the next input would break either limit. Inputs must
 * each fit in one request (callers reject longer ones first, with a reason).
 */
export function planEmbeddingBatches(tokenCounts: readonly number[], limits: BatchLimits): BatchRange[] {
  const batches: BatchRange[] = [];
  let start = 0;
  let tokens = 0;
  for (let i = 0; i < tokenCounts.length; i++) {
    const count = tokenCounts[i]!;
    if (count > limits.maxTokensPerRequest) {
      throw new RangeError(`input ${i} has ${count} tokens, more than a whole request allows (${limits.maxTokensPerRequest})`);
    }
    const full = i - start >= limits.maxInputsPerRequest || tokens + count > limits.maxTokensPerRequest;
    if (full && i > start) {
      batches.push({ start, end: i, tokens });
      start = i;
      tokens = 0;
    }
    tokens += count;
  }
  if (tokenCounts.length > start) batches.push({ start, end: tokenCounts.length, tokens });
  return batches;
}
