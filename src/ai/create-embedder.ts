/**
 * Chooses the embedding provider from settings. The offline embedder is the default: with no
 * key configured, ingestion and search still work, deterministically and without network.
 */
import type { Embedder } from './embedder';
import { OfflineHashEmbedder, OFFLINE_EMBEDDING_DIMENSIONS } from './offline-embedder';
import {
  OpenAICompatibleEmbedder,
  DEFAULT_OPENAI_EMBEDDING_MODEL,
  DEFAULT_OPENAI_EMBEDDING_DIMENSIONS,
  type OpenAIEmbedderDeps,
} from './openai-embedder';

export interface EmbeddingSettings {
  /** Without a key the offline embedder is used. Keyless local servers (Ollama…) take any placeholder. */
  apiKey?: string;
  baseURL?: string;
  model?: string;
  dimensions?: number;
}

/** Picks the provider from settings: OpenAI-compatible when a key is set, offline otherwise. */
export function createEmbedder(settings: EmbeddingSettings = {}, deps: OpenAIEmbedderDeps = {}): Embedder {
  if (!settings.apiKey) {
    return new OfflineHashEmbedder({ dimensions: settings.dimensions ?? OFFLINE_EMBEDDING_DIMENSIONS });
  }
  return new OpenAICompatibleEmbedder(
    {
      apiKey: settings.apiKey,
      baseURL: settings.baseURL,
      model: settings.model ?? DEFAULT_OPENAI_EMBEDDING_MODEL,
      dimensions: settings.dimensions ?? DEFAULT_OPENAI_EMBEDDING_DIMENSIONS,
    },
    deps,
  );
}
