/**
 * Token cost per model and provider. A stored model id names its provider: `offline:extractive`,
 * `openai-compatible:<host>:<model>`; the provider is `offline` or the host. Prices come from
 * MODEL_PRICES_USD_PER_MTOK by model name; an unknown model's cost is null, never a guess.
 */
import { MODEL_PRICES_USD_PER_MTOK } from '../../limits';

export function splitModelId(id: string): { provider: string; model: string } {
  const parts = id.split(':');
  if (parts[0] === 'openai-compatible' && parts.length >= 3) return { provider: parts[1]!, model: parts.slice(2).join(':') };
  if (parts.length === 2) return { provider: parts[0]!, model: parts[1]! };
  return { provider: 'unknown', model: id };
}

export function costUsd(model: string, promptTokens: number, completionTokens: number): number | null {
  const price = Object.hasOwn(MODEL_PRICES_USD_PER_MTOK, model) ? MODEL_PRICES_USD_PER_MTOK[model]! : null;
  if (!price) return null;
  return Math.round(((promptTokens * price.input + completionTokens * price.output) / 1_000_000) * 1e6) / 1e6;
}

export interface ModelUsage {
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number | null;
}

export interface ProviderUsage {
  provider: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Sum over the provider's priced models; null when none is priced. */
  costUsd: number | null;
  /** Tokens of models without a price (not in costUsd). */
  unpricedTokens: number;
}

export function usageByModel(tokens: Map<string, { prompt: number; completion: number }>): ModelUsage[] {
  return [...tokens]
    .map(([id, t]) => {
      const { provider, model } = splitModelId(id);
      return { provider, model, promptTokens: t.prompt, completionTokens: t.completion, totalTokens: t.prompt + t.completion, costUsd: costUsd(model, t.prompt, t.completion) };
    })
    .sort((a, b) => b.totalTokens - a.totalTokens || a.model.localeCompare(b.model));
}

export function usageByProvider(models: ModelUsage[]): ProviderUsage[] {
  const byProvider = new Map<string, ProviderUsage>();
  for (const m of models) {
    const p = byProvider.get(m.provider) ?? { provider: m.provider, promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: null, unpricedTokens: 0 };
    p.promptTokens += m.promptTokens;
    p.completionTokens += m.completionTokens;
    p.totalTokens += m.totalTokens;
    if (m.costUsd === null) p.unpricedTokens += m.totalTokens;
    else p.costUsd = Math.round(((p.costUsd ?? 0) + m.costUsd) * 1e6) / 1e6;
    byProvider.set(m.provider, p);
  }
  return [...byProvider.values()].sort((a, b) => b.totalTokens - a.totalTokens);
}
