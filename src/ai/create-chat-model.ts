/**
 * The chat model a bot answers with, built per turn:
 *
 * 1. The bot's own model. Provider `offline` or model `extractive`: the offline answerer, alone
 *    (it cannot fail, so nothing follows it). Otherwise an OpenAI-compatible endpoint: the org's
 *    base URL and `api_key` secret (org settings, provider not `offline`), else the operator's
 *    CHAT_BASE_URL / CHAT_API_KEY. The model name is the bot's, or for `default` the org's
 *    `chatModel`, else CHAT_MODEL.
 * 2. Then `bot.modelFallbacks` in order: { baseUrl, model, apiKeySecret } where apiKeySecret names
 *    an org secret (null: a keyless local server); model `extractive` there means the offline
 *    answerer.
 * 3. With nothing configured at all, the offline answerer, so a bot always answers.
 *
 * With `bot.piiRedaction`, every external model is wrapped in the PII pseudonymizer.
 * More than one model makes a FallbackChatModel: read `model.id` after the stream has ended to
 * learn which one answered.
 *
 * Org secrets are opened here rather than through the settings feature because platform code
 * (src/ai) may not import features (docs/ARCHITECTURE.md); the envelope format and its
 * associated data come from src/lib/secrets.ts, which both share.
 */
import { eq } from 'drizzle-orm';
import { orgSettings } from '../db/schema';
import type { ServiceContext } from '../context';
import { fetcherFromBinding } from '../egress';
import { decryptSecret, orgSecretAad, PROVIDER_KEY_SECRET, type SecretEnvelope } from '../lib/secrets';
import { ChatModelError, type ChatChunk, type ChatModel, type ChatFailureReason } from './chat-model';
import { FallbackChatModel } from './fallback-chat-model';
import { createOfflineAnswerer } from './offline-answerer';
import { OpenAICompatibleChatModel, type OpenAIChatModelDeps } from './openai-chat-model';
import { PiiRedactingChatModel } from './pii';

/** The bot fields that choose its model (a BotRow fits). */
export interface ChatModelBot {
  model: string;
  modelProvider: string;
  temperature: number;
  maxTokens: number;
  piiRedaction: boolean;
  modelFallbacks: { baseUrl: string | null; model: string; apiKeySecret: string | null }[];
}

/** The model name a bot uses to mean "the org's (or operator's) default chat model". */
export const DEFAULT_MODEL_NAME = 'default';
const OFFLINE_MODEL_NAME = 'extractive';
/** Sent to keyless servers (Ollama, llama.cpp): the SDK insists on some key. */
const NO_KEY = 'no-key';

interface Endpoint {
  baseUrl: string | null;
  model: string;
  apiKey: string | null;
  /** Set when the key could not be opened: the model then fails at once, and the next one answers. */
  unavailable?: { reason: ChatFailureReason; message: string };
}

export async function createChatModel(ctx: ServiceContext, orgId: string, bot: ChatModelBot, deps: OpenAIChatModelDeps = {}): Promise<ChatModel> {
  if (bot.modelProvider === 'offline' || bot.model === OFFLINE_MODEL_NAME) return createOfflineAnswerer();

  const row = await ctx.db.select().from(orgSettings).where(eq(orgSettings.orgId, orgId)).get();
  const stored = row ? (JSON.parse(row.secrets) as Record<string, SecretEnvelope>) : {};
  const openSecret = async (name: string): Promise<{ key: string } | { missing: string }> => {
    const envelope = stored[name];
    if (!envelope) return { missing: `org secret "${name}" is not set` };
    try {
      return { key: await decryptSecret(ctx.config, envelope, orgSecretAad(orgId, name), name) };
    } catch (error) {
      return { missing: `org secret "${name}" cannot be decrypted (${error instanceof Error ? error.message : 'error'})` };
    }
  };

  const endpoints: Endpoint[] = [];
  const modelName = bot.model === DEFAULT_MODEL_NAME ? (row?.chatModel ?? ctx.config.chat.model) : bot.model;
  const orgConfigured = row !== undefined && row.provider !== 'offline' && (stored[PROVIDER_KEY_SECRET] !== undefined || row.baseUrl !== null);
  if (modelName && orgConfigured) {
    const secret = stored[PROVIDER_KEY_SECRET] ? await openSecret(PROVIDER_KEY_SECRET) : { key: NO_KEY };
    endpoints.push(endpoint(row.baseUrl, modelName, secret));
  } else if (modelName && (ctx.config.chat.baseUrl || ctx.config.chat.apiKey)) {
    endpoints.push({ baseUrl: ctx.config.chat.baseUrl, model: modelName, apiKey: ctx.config.chat.apiKey ?? NO_KEY });
  }
  for (const fallback of bot.modelFallbacks) {
    const secret = fallback.apiKeySecret ? await openSecret(fallback.apiKeySecret) : { key: NO_KEY };
    endpoints.push(endpoint(fallback.baseUrl, fallback.model, secret));
  }
  if (endpoints.length === 0) return createOfflineAnswerer();

  const modelDeps: OpenAIChatModelDeps = { fetch: fetcherFromBinding(ctx.env.WEB_FETCHER), egressPolicy: ctx.config.egress, ...deps };
  const models = endpoints.map((e): ChatModel => {
    if (e.model === OFFLINE_MODEL_NAME && e.baseUrl === null) return createOfflineAnswerer();
    const external = e.unavailable
      ? unavailableModel(e, modelDeps)
      : new OpenAICompatibleChatModel({ baseURL: e.baseUrl ?? undefined, model: e.model, apiKey: e.apiKey ?? NO_KEY }, modelDeps);
    return bot.piiRedaction ? new PiiRedactingChatModel(external) : external;
  });
  if (models.length === 1) return models[0]!;
  return new FallbackChatModel(models, {
    onFallback: ({ modelId, error }, next) =>
      console.warn(JSON.stringify({ level: 'warn', msg: 'chat model failed before answering; trying the next', orgId, model: modelId, reason: error.reason, next })),
  });
}

function endpoint(baseUrl: string | null, model: string, secret: { key: string } | { missing: string }): Endpoint {
  if ('key' in secret) return { baseUrl, model, apiKey: secret.key };
  return { baseUrl, model, apiKey: null, unavailable: { reason: 'unauthorized', message: secret.missing } };
}

/** A configured model whose key cannot be used: it fails before any output, so a fallback answers. */
function unavailableModel(e: Endpoint, deps: OpenAIChatModelDeps): ChatModel {
  // Same id as the working adapter would have, so logs and the fallback chain name it alike.
  const { id } = new OpenAICompatibleChatModel({ baseURL: e.baseUrl ?? undefined, model: e.model, apiKey: NO_KEY }, deps);
  return {
    id,
    async *stream(): AsyncIterable<ChatChunk> {
      throw new ChatModelError(e.unavailable!.reason, e.unavailable!.message, { model: id });
    },
  };
}

/** Whether a model runs outside this Worker (then summaries come from it rather than extractively). */
export const isExternalModel = (model: ChatModel) => !model.id.startsWith('offline:');
