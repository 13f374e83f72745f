/**
 * Feedback review, answer correction and analytics (issue #10). Handlers validate, call one
 * service and shape the answer; another org's bot, feedback or message is a 404.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam, page } from '../../http/router';
import { ApiError, badRequest, notFound, quotaExceeded } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import type { AppBindings } from '../../http/types';
import { ANALYTICS } from '../../limits';
import { getBot } from '../bots/service';
import { BotOverviewQuery, CorrectionSchema, FeedbackReviewQuery, ImproveBody, OverviewQuery, OverviewSchema, ReviewedFeedbackSchema, UnansweredGroupSchema, UnansweredQuery } from './schemas';
import { overview } from './overview';
import { overviewCsv, CSV_TABLES } from './csv-tables';
import { addDays, daysBetween, localDate, localRange } from './range';
import { findFeedback, listOrgFeedback, listUnanswered, type ReviewedFeedback } from './review';
import { improveAnswer, type CorrectionRow, type ImproveResult } from './corrections';

const security = [{ bearer: [] }];
const iso = (ms: number) => new Date(ms).toISOString();

const botNotFound = () => notFound('Bot', 'bot_not_found');

async function requireBotOf(c: Context<AppBindings>, botId: string | undefined) {
  if (botId === undefined) return null;
  const bot = await getBot(c.get('db'), c.get('org').orgId, botId);
  if (!bot) throw botNotFound();
  return bot.id;
}

const toCorrectionDto = (row: CorrectionRow) => ({
  id: row.id,
  botId: row.botId,
  messageId: row.messageId,
  feedbackId: row.feedbackId,
  sourceId: row.sourceId,
  question: row.question,
  answer: row.answer,
  createdAt: iso(row.createdAt),
});

const toReviewedDto = (f: ReviewedFeedback) => ({
  id: f.id,
  botId: f.botId,
  conversationId: f.conversationId,
  messageId: f.messageId,
  rating: f.rating,
  comment: f.comment,
  author: { kind: f.authorKind, id: f.authorId },
  question: f.question,
  answer: f.answer,
  citations: f.citations,
  unanswered: f.unanswered,
  improvement: f.improvement ? { correctionId: f.improvement.correctionId, sourceId: f.improvement.sourceId, createdAt: iso(f.improvement.at) } : null,
  createdAt: iso(f.createdAt),
  updatedAt: iso(f.updatedAt),
});

function improved(c: Context<AppBindings>, result: ImproveResult, notFoundError: () => ApiError) {
  switch (result.status) {
    case 'not_found':
      throw notFoundError();
    case 'not_an_answer':
      throw new ApiError({ status: 422, code: 'not_an_answer', title: 'Not an answer', detail: "Only the bot's answers (assistant messages) can be improved." });
    case 'not_unanswered':
      throw new ApiError({ status: 422, code: 'not_unanswered', title: 'Not unanswered', detail: 'This answer was not a fallback; improve it from the feedback review.' });
    case 'no_question':
      throw new ApiError({ status: 422, code: 'no_question', title: 'No question', detail: 'The answer replies to no stored question; send `question`.' });
    case 'already_improved':
      throw new ApiError({
        status: 409,
        code: 'already_improved',
        title: 'Already improved',
        detail: `This answer was already improved (source ${result.correction.sourceId}); edit that source instead.`,
        extensions: { sourceId: result.correction.sourceId, correctionId: result.correction.id },
      });
    case 'quota':
      throw quotaExceeded(result.decision);
    case 'improved':
      return c.json(toCorrectionDto(result.correction), 201);
  }
}

const improveResponses = {
  201: jsonContent(CorrectionSchema, 'The Q&A source was created (indexing runs in the background) and the answer is marked improved'),
  ...commonErrors,
  409: { ...errorResponses[409], description: 'Already improved (`already_improved`, with the `sourceId`)' },
  422: { ...errorResponses[422], description: 'Not an assistant message (`not_an_answer`), not an unanswered turn (`not_unanswered`), or no stored question and none given (`no_question`)' },
};

export function analyticsRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/feedback',
      tags: ['Feedback review'],
      security,
      summary: "Ratings across the org, newest first, with each rated answer's question, text and citations",
      request: { query: FeedbackReviewQuery },
      responses: { 200: jsonContent(page(ReviewedFeedbackSchema), 'A page of ratings'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const q = c.req.valid('query');
      const botId = (await requireBotOf(c, q.botId)) ?? undefined;
      const rows = await listOrgFeedback(serviceContext(c), {
        orgId: org.orgId,
        botId,
        rating: q.rating,
        from: q.from ? Date.parse(q.from) : undefined,
        to: q.to ? Date.parse(q.to) : undefined,
        hasComment: q.hasComment === undefined ? undefined : q.hasComment === 'true',
        before: decodeCursor(q.cursor),
        limit: q.limit,
      });
      const result = toPage(rows, q.limit);
      return c.json({ data: result.data.map(toReviewedDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/feedback/{feedbackId}/improve',
      tags: ['Feedback review'],
      security,
      summary: "Improve a rated answer: the question and the corrected answer become a Q&A source of the answer's bot",
      request: { params: IdParam('feedbackId', 'fbk'), body: jsonBody(ImproveBody) },
      responses: improveResponses,
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const ctx = serviceContext(c);
      const feedback = await findFeedback(ctx, org.orgId, c.req.valid('param').feedbackId);
      const feedbackNotFound = () => notFound('Feedback', 'feedback_not_found');
      if (!feedback) throw feedbackNotFound();
      const body = c.req.valid('json');
      const result = await improveAnswer(ctx, c.get('actor'), { orgId: org.orgId, messageId: feedback.messageId, feedbackId: feedback.id, answer: body.answer, question: body.question });
      return improved(c, result, feedbackNotFound);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/analytics/unanswered',
      tags: ['Analytics'],
      security,
      summary: 'Unanswered turns not yet improved, grouped by near-duplicate question (newest group first)',
      request: { query: UnansweredQuery },
      responses: { 200: jsonContent(page(UnansweredGroupSchema), 'A page of groups'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'analytics.read');
      const q = c.req.valid('query');
      const botId = await requireBotOf(c, q.botId);
      const groups = await listUnanswered(serviceContext(c), { orgId: org.orgId, botId, before: decodeCursor(q.cursor), limit: q.limit });
      const result = toPage(groups, q.limit);
      return c.json(
        {
          data: result.data.map((g) => ({ ...g, lastAskedAt: iso(g.lastAskedAt), messages: g.messages.map((m) => ({ ...m, createdAt: iso(m.createdAt) })) })),
          nextCursor: result.nextCursor,
        },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/analytics/unanswered/{messageId}/improve',
      tags: ['Analytics'],
      security,
      summary: 'Answer an unanswered turn: the question and the answer become a Q&A source of its bot',
      request: { params: IdParam('messageId', 'msg'), body: jsonBody(ImproveBody) },
      responses: improveResponses,
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const body = c.req.valid('json');
      const result = await improveAnswer(serviceContext(c), c.get('actor'), {
        orgId: org.orgId,
        messageId: c.req.valid('param').messageId,
        answer: body.answer,
        question: body.question,
        requireUnanswered: true,
      });
      return improved(c, result, () => notFound('Message', 'message_not_found'));
    },
  );

  const overviewDescription = `Counts, breakdowns with a daily series, top lists and token cost for the local days \`from\`..\`to\` (inclusive) in \`tz\` (at most ${ANALYTICS.maxRangeDays} days). Closed UTC days and the closed hours of today come from the rollups; the hour in progress and days not rolled up yet are counted live. Unique visitors are exact up to ${ANALYTICS.exactVisitorsUpTo} conversations in the range and estimated above (HyperLogLog, about 1.6% standard error; \`rollups.uniqueVisitors\` says which). \`format=csv&table=<${CSV_TABLES.join('|')}>\` answers one table as text/csv.`;
  const overviewResponses = {
    200: { description: 'The overview (JSON), or one table as CSV', content: { 'application/json': { schema: OverviewSchema }, 'text/csv': { schema: z.string() } } },
    ...commonErrors,
  };

  async function answerOverview(c: Context<AppBindings>, q: { from?: string; to?: string; tz: string; format: 'json' | 'csv'; table?: (typeof CSV_TABLES)[number] }, orgId: string, botId: string | null) {
    const ctx = serviceContext(c);
    const to = q.to ?? localDate(q.tz, ctx.clock.now());
    const from = q.from ?? addDays(to, -(ANALYTICS.defaultRangeDays - 1));
    const span = daysBetween(from, to) + 1;
    if (span < 1) throw badRequest('`from` is after `to`.', 'invalid_range', [{ path: 'query.from', message: 'Must not be after `to`' }]);
    if (span > ANALYTICS.maxRangeDays) throw badRequest(`The range is ${span} days; at most ${ANALYTICS.maxRangeDays}.`, 'range_too_long', [{ path: 'query.from', message: `At most ${ANALYTICS.maxRangeDays} days` }]);
    if (q.format === 'csv' && !q.table) throw badRequest('Name the table to export with `table`.', 'validation_failed', [{ path: 'query.table', message: `One of ${CSV_TABLES.join(', ')}` }]);
    const result = await overview(ctx, { orgId, botId, range: localRange(q.tz, from, to) });
    if (q.format === 'csv') {
      return c.body(overviewCsv(result, q.table!), 200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="analytics-${q.table}-${from}-${to}.csv"`,
        'cache-control': 'no-store',
      });
    }
    return c.json(result, 200);
  }

  router.openapi(
    createRoute({ method: 'get', path: '/analytics/overview', tags: ['Analytics'], security, summary: "The org's analytics (optionally one bot's)", description: overviewDescription, request: { query: OverviewQuery }, responses: overviewResponses }),
    async (c) => {
      const org = requirePermission(c, 'analytics.read');
      const q = c.req.valid('query');
      const botId = await requireBotOf(c, q.botId);
      return answerOverview(c, q, org.orgId, botId) as never;
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/analytics/bots/{botId}',
      tags: ['Analytics'],
      security,
      summary: "One bot's analytics (the overview's shape)",
      description: overviewDescription,
      request: { params: IdParam('botId', 'bot'), query: BotOverviewQuery },
      responses: overviewResponses,
    }),
    async (c) => {
      const org = requirePermission(c, 'analytics.read');
      const botId = await requireBotOf(c, c.req.valid('param').botId);
      return answerOverview(c, c.req.valid('query'), org.orgId, botId) as never;
    },
  );

  return router;
}
