/**
 * Processing an accepted inbound event (the `inbound.process` job) and its dry run (the
 * integration's test). Idempotent by webhook-id, which the replay guard made one event row:
 * - the job claims the row (`queued`/`processing` → `processing`); a processed or failed event
 *   is left alone, so a re-delivered message changes nothing;
 * - a re-run after a crash between the action and the "processed" mark repeats an action that is
 *   itself idempotent: an upsert of identical content is `unchanged`, a delete of what is gone is
 *   `not_found`, a reply is keyed by the event id, a sync of a syncing source waits for it.
 *
 * Expected failures (the bot, source or conversation is gone or another org's) fail the event
 * with the reason; unexpected ones throw and the queue retries.
 */
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import { inboundEvents, type IntegrationAction } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { INBOUND_WEBHOOKS } from '../../limits';
import { splitForStatements } from '../../db/bound-parameters';
import { getBot } from '../bots/service';
import { getSource, requestSync } from '../knowledge/sources';
import { deleteExternalSource, findExternalSource, previewUpsert, upsertExternalSource, type ExternalContent } from '../knowledge/external-sources';
import { conversationForRoom, postExternalAgentReply } from '../chat/live/agent-messages';
import { publishToRoom } from '../chat/live/room-publish';
import { enqueueMany } from '../../jobs/messages';
import { ACTION_PAYLOADS, type ActionPayload } from './payloads';
import { getIntegration, type IntegrationRow } from './service';

export type ActionOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; reason: string };

/** A sync was asked for while one runs: retried later, so the running sync cannot miss what was just published. */
export class SourceBusyError extends Error {
  override readonly name = 'SourceBusyError';
}

const fail = (reason: string): ActionOutcome => ({ ok: false, reason });

function externalContent(p: ActionPayload<'knowledge.upsert'>): ExternalContent {
  return p.type === 'text'
    ? { type: 'text', title: p.title ?? p.externalId, text: p.text }
    : { type: 'qa', title: p.title ?? p.question.slice(0, INBOUND_WEBHOOKS.maxTitleChars), pairs: [{ question: p.question, answer: p.answer }] };
}

async function targetSource(ctx: ServiceContext, integration: IntegrationRow, payload: ActionPayload<'source.sync'>) {
  const sourceId = integration.sourceId ?? payload.sourceId;
  const source = sourceId ? await getSource(ctx.db, integration.orgId, sourceId) : null;
  // A source of another bot than the integration's is as absent as another org's.
  return source && (!integration.botId || source.botId === integration.botId) ? source : null;
}

async function targetBot(ctx: ServiceContext, integration: IntegrationRow) {
  return integration.botId ? getBot(ctx.db, integration.orgId, integration.botId) : null;
}

async function targetConversation(ctx: ServiceContext, integration: IntegrationRow, conversationId: string) {
  const conversation = await conversationForRoom(ctx.db, integration.orgId, conversationId);
  return conversation && (!integration.botId || conversation.botId === integration.botId) ? conversation : null;
}

/** Runs the integration's action on a validated payload. */
export async function runAction(ctx: ServiceContext, integration: IntegrationRow, eventId: string, payload: unknown): Promise<ActionOutcome> {
  switch (integration.action) {
    case 'source.sync': {
      const source = await targetSource(ctx, integration, payload as ActionPayload<'source.sync'>);
      if (!source) return fail('The source does not exist (or belongs to another bot or organization).');
      const sync = await requestSync(ctx, { kind: 'system' }, source);
      if (sync.status === 'busy') throw new SourceBusyError(`Source ${source.id} is syncing; this event waits for it to finish.`);
      return { ok: true, result: { outcome: 'sync_queued', sourceId: source.id } };
    }
    case 'knowledge.upsert': {
      const p = payload as ActionPayload<'knowledge.upsert'>;
      if (!(await targetBot(ctx, integration))) return fail('The integration\'s bot no longer exists.');
      const outcome = await upsertExternalSource(ctx, { orgId: integration.orgId, botId: integration.botId!, externalId: p.externalId, integrationId: integration.id }, externalContent(p));
      const { status, ...ids } = outcome;
      return { ok: true, result: { outcome: status, externalId: p.externalId, ...ids } };
    }
    case 'knowledge.delete': {
      const p = payload as ActionPayload<'knowledge.delete'>;
      if (!(await targetBot(ctx, integration))) return fail('The integration\'s bot no longer exists.');
      const outcome = await deleteExternalSource(ctx, { orgId: integration.orgId, botId: integration.botId!, externalId: p.externalId, integrationId: integration.id });
      return { ok: true, result: { outcome: outcome.status, externalId: p.externalId, ...(outcome.status === 'deleted' ? { sourceIds: outcome.sourceIds } : {}) } };
    }
    case 'conversation.reply': {
      const p = payload as ActionPayload<'conversation.reply'>;
      if (!(await targetConversation(ctx, integration, p.conversationId))) return fail('The conversation does not exist (or belongs to another bot or organization).');
      const reply = await postExternalAgentReply(ctx, { orgId: integration.orgId, conversationId: p.conversationId }, integration.id, p.text, `hook:${eventId}`);
      if (reply.status === 'conversation_not_found') return fail('The conversation does not exist (or belongs to another bot or organization).');
      if (reply.status === 'conversation_closed') return fail('The conversation is closed.');
      await publishToRoom(ctx, p.conversationId, [
        { type: 'status', status: reply.conversation.status, humanUserId: reply.conversation.humanUserId },
        { type: 'message', message: reply.message },
      ], 'room unreachable for an inbound reply');
      return { ok: true, result: { outcome: 'replied', conversationId: p.conversationId, messageId: reply.message.id, ...(p.author ? { author: p.author } : {}) } };
    }
  }
}

/** What running the action would do now, touching nothing. */
export async function previewAction(ctx: ServiceContext, integration: IntegrationRow, payload: unknown): Promise<Record<string, unknown>> {
  switch (integration.action) {
    case 'source.sync': {
      const source = await targetSource(ctx, integration, payload as ActionPayload<'source.sync'>);
      if (!source) return { outcome: 'would_fail', reason: 'source_not_found' };
      const busy = source.status === 'queued' || source.status === 'processing';
      return { outcome: busy ? 'would_wait_for_running_sync' : 'would_sync', sourceId: source.id };
    }
    case 'knowledge.upsert': {
      const p = payload as ActionPayload<'knowledge.upsert'>;
      if (!(await targetBot(ctx, integration))) return { outcome: 'would_fail', reason: 'bot_not_found' };
      const preview = await previewUpsert(ctx, { orgId: integration.orgId, botId: integration.botId!, externalId: p.externalId }, externalContent(p));
      return { outcome: preview.status, externalId: p.externalId, ...('sourceId' in preview ? { sourceId: preview.sourceId } : {}) };
    }
    case 'knowledge.delete': {
      const p = payload as ActionPayload<'knowledge.delete'>;
      if (!(await targetBot(ctx, integration))) return { outcome: 'would_fail', reason: 'bot_not_found' };
      const current = await findExternalSource(ctx, { orgId: integration.orgId, botId: integration.botId!, externalId: p.externalId });
      return current ? { outcome: 'would_delete', externalId: p.externalId, sourceId: current.id } : { outcome: 'nothing_to_delete', externalId: p.externalId };
    }
    case 'conversation.reply': {
      const p = payload as ActionPayload<'conversation.reply'>;
      const conversation = await targetConversation(ctx, integration, p.conversationId);
      if (!conversation) return { outcome: 'would_fail', reason: 'conversation_not_found' };
      if (conversation.status === 'closed') return { outcome: 'would_fail', reason: 'conversation_closed' };
      return { outcome: conversation.status === 'human' ? 'would_reply' : 'would_take_over_and_reply', conversationId: conversation.id };
    }
  }
}

/** The `inbound.process` job. */
export async function processInboundEvent(ctx: ServiceContext, job: { orgId: string; eventId: string }): Promise<string> {
  const [event] = await ctx.db
    .update(inboundEvents)
    .set({ status: 'processing', attempts: sql`${inboundEvents.attempts} + 1` })
    .where(and(eq(inboundEvents.id, job.eventId), eq(inboundEvents.orgId, job.orgId), inArray(inboundEvents.status, ['queued', 'processing'])))
    .returning();
  if (!event) return 'not queued';
  const integration = await getIntegration(ctx.db, job.orgId, event.integrationId);
  const parsed = ACTION_PAYLOADS[event.action as IntegrationAction].safeParse(JSON.parse(event.payload ?? '{}'));
  // The action is the one the event was accepted for: an integration changed since then does not re-route it.
  const outcome = !integration
    ? fail('The integration was deleted.')
    : !parsed.success
      ? fail('The stored payload no longer validates.')
      : await runAction(ctx, { ...integration, action: event.action }, event.id, parsed.data);
  await ctx.db
    .update(inboundEvents)
    .set(
      outcome.ok
        ? { status: 'processed', result: outcome.result, error: null, payload: null, processedAt: ctx.clock.now() }
        : { status: 'failed', error: outcome.reason, payload: null, processedAt: ctx.clock.now() },
    )
    .where(and(eq(inboundEvents.id, event.id), eq(inboundEvents.status, 'processing')));
  return outcome.ok ? String(outcome.result.outcome) : 'failed';
}

/** Keeps a transient failure's reason on the event (the queue retries it). */
export async function noteInboundError(ctx: ServiceContext, orgId: string, eventId: string, reason: string) {
  await ctx.db
    .update(inboundEvents)
    .set({ error: reason.slice(0, 500) })
    .where(and(eq(inboundEvents.id, eventId), eq(inboundEvents.orgId, orgId)));
}

/** The dead-letter queue's verdict: the event failed for good. */
export async function failInboundEvent(ctx: ServiceContext, orgId: string, eventId: string, reason: string) {
  await ctx.db
    .update(inboundEvents)
    .set({ status: 'failed', error: reason.slice(0, 500), payload: null, processedAt: ctx.clock.now() })
    .where(and(eq(inboundEvents.id, eventId), eq(inboundEvents.orgId, orgId), inArray(inboundEvents.status, ['queued', 'processing'])));
}

/**
 * Cron: re-sends events whose queue message was lost (still `queued` since before `stuckBefore`;
 * a `processing` one has its message in the queue's retries, and the dead-letter queue settles
 * it), and deletes the log past its retention. Bounded per run.
 */
export async function sweepInboundEvents(ctx: ServiceContext, now: number, stuckBefore: number) {
  const stranded = await ctx.db
    .select({ id: inboundEvents.id, orgId: inboundEvents.orgId })
    .from(inboundEvents)
    .where(and(eq(inboundEvents.status, 'queued'), lt(inboundEvents.receivedAt, stuckBefore)))
    .limit(INBOUND_WEBHOOKS.maxSweptPerRun);
  if (stranded.length > 0) await enqueueMany(ctx.env, stranded.map((e) => ({ type: 'inbound.process' as const, orgId: e.orgId, eventId: e.id })));
  const expired = await ctx.db
    .select({ id: inboundEvents.id })
    .from(inboundEvents)
    .where(and(lt(inboundEvents.receivedAt, now - INBOUND_WEBHOOKS.logRetentionMs), inArray(inboundEvents.status, ['rejected', 'too_large', 'replayed', 'invalid', 'processed', 'failed'])))
    .limit(INBOUND_WEBHOOKS.maxSweptPerRun);
  for (const group of splitForStatements(expired.map((e) => e.id))) {
    await ctx.db.delete(inboundEvents).where(inArray(inboundEvents.id, group));
  }
  return { resent: stranded.length, deleted: expired.length };
}
