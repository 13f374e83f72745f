/** Route helper: the quotas a new source spends, for the JSON and the upload route alike (a 429 problem when over). */
import { quotaExceeded } from '../../http/problem';
import type { ServiceContext } from '../../context';
import { checkSourceQuota, consumeQuota } from '../usage/quotas';

/**
 * Source creation quotas, checked before anything is stored: the org's source count, then the
 * bytes it stores today (pasted text and Q&A count like uploads).
 */
export async function enforceSourceQuotas(ctx: ServiceContext, orgId: string, newSources: number, bytes: number) {
  const count = await checkSourceQuota(ctx, orgId, newSources);
  if (!count.allowed) throw quotaExceeded(count);
  const stored = await consumeQuota(ctx, orgId, 'upload_bytes_per_day', bytes);
  if (!stored.allowed) throw quotaExceeded(stored);
}

export function storedBytes(input: { type: string; text?: string; pairs?: unknown }): number {
  if (input.type === 'text') return new TextEncoder().encode(input.text ?? '').byteLength;
  if (input.type === 'qa') return new TextEncoder().encode(JSON.stringify({ pairs: input.pairs })).byteLength;
  return 0;
}

