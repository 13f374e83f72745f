/**
 * Which ChatModel answers for a bot. For now always the offline extractive answerer; the `models`
 * slice resolves the bot's model, the org's provider settings, the environment and the bot's
 * fallback list here, behind this same signature.
 */
import type { ServiceContext } from '../context';
import type { bots } from '../db/schema';
import type { ChatModel } from './chat-model';
import { createOfflineAnswerer } from './offline-answerer';

export async function createChatModel(_ctx: ServiceContext, _orgId: string, _bot: typeof bots.$inferSelect): Promise<ChatModel> {
  return createOfflineAnswerer();
}

/** Whether a model runs outside this Worker (then summaries come from it rather than extractively). */
export const isExternalModel = (model: ChatModel) => !model.id.startsWith('offline:');
