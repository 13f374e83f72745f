/**
 * What each integration action accepts in a verified inbound event's JSON body. Plain zod (no
 * Hono): the receiving service validates with them, and the hook route documents them.
 */
import { z } from 'zod';
import { ANSWER_CORRECTION, INBOUND_WEBHOOKS as L, TEXT_SOURCE_MAX_CHARS } from '../../limits';
import type { IntegrationAction } from '../../db/schema';

const externalId = z.string().trim().min(1).max(L.maxExternalIdChars).describe("The sender's own id for this piece of knowledge");
const title = z.string().trim().min(1).max(L.maxTitleChars);

/** A CMS sends its own publish payload: any object is fine; `sourceId` names the source when the integration has none. */
export const SourceSyncPayload = z.looseObject({ sourceId: z.string().min(1).max(64).optional() });

export const KnowledgeUpsertPayload = z.discriminatedUnion('type', [
  z.object({ externalId, type: z.literal('text'), title: title.optional(), text: z.string().trim().min(1).max(TEXT_SOURCE_MAX_CHARS) }),
  z.object({
    externalId,
    type: z.literal('qa'),
    title: title.optional(),
    question: z.string().trim().min(1).max(ANSWER_CORRECTION.maxQuestionChars),
    answer: z.string().trim().min(1).max(ANSWER_CORRECTION.maxAnswerChars),
  }),
]);

export const KnowledgeDeletePayload = z.object({ externalId });

export const ConversationReplyPayload = z.object({
  conversationId: z.string().min(1).max(64),
  text: z.string().trim().min(1).max(L.maxReplyChars),
  author: z.string().trim().min(1).max(L.maxAuthorChars).optional().describe('Who wrote the reply in the helpdesk (kept in the event log)'),
});

export const ACTION_PAYLOADS = {
  'source.sync': SourceSyncPayload,
  'knowledge.upsert': KnowledgeUpsertPayload,
  'knowledge.delete': KnowledgeDeletePayload,
  'conversation.reply': ConversationReplyPayload,
} as const satisfies Record<IntegrationAction, z.ZodType>;

export type ActionPayload<A extends IntegrationAction> = z.infer<(typeof ACTION_PAYLOADS)[A]>;

/** A payload that makes sense for each action, for `POST /integrations/{id}/test` when none is given. */
export const SAMPLE_PAYLOADS: Record<IntegrationAction, unknown> = {
  'source.sync': { event: 'entry.publish' },
  'knowledge.upsert': { externalId: 'faq-42', type: 'text', title: 'Opening hours', text: 'We are open Monday to Friday, 9:00 to 17:00.' },
  'knowledge.delete': { externalId: 'faq-42' },
  'conversation.reply': { conversationId: 'cnv_01JD3X0000000000000000000', text: 'Hello! A person from our support team here.', author: 'Ada (support)' },
};
