import { z } from '@hono/zod-openapi';
import { FEEDBACK_RATINGS } from '../../db/schema';
import { PaginationQuery } from '../../http/router';
import { ANALYTICS, ANSWER_CORRECTION } from '../../limits';
import { CSV_TABLES } from './csv-tables';
import { isTimeZone, parseDate } from './range';

const LocalDate = z
  .string()
  .refine((v) => parseDate(v) !== null, 'A calendar date, YYYY-MM-DD')
  .openapi({ example: '2026-03-01', format: 'date' });

export const OverviewQuery = z.object({
  from: LocalDate.optional().openapi({ description: `First local day (inclusive); default: ${ANALYTICS.defaultRangeDays} days before \`to\`` }),
  to: LocalDate.optional().openapi({ description: 'Last local day (inclusive); default: today in `tz`' }),
  tz: z
    .string()
    .max(64)
    .refine(isTimeZone, 'An IANA time zone, e.g. Europe/Berlin')
    .default('UTC')
    .openapi({ example: 'Europe/Berlin', description: 'IANA time zone the days and hours of the week are cut in' }),
  botId: z.string().min(1).max(64).optional(),
  format: z.enum(['json', 'csv']).default('json'),
  table: z.enum(CSV_TABLES).optional().openapi({ description: 'With `format=csv`: which table (one per request)' }),
});
export const BotOverviewQuery = OverviewQuery.omit({ botId: true });

const Breakdown = z.object({ key: z.string().nullable(), conversations: z.number().int(), series: z.array(z.number().int()).openapi({ description: 'Per day of `range.days`' }) });

const DaySeries = (what: string) => z.array(z.number().int()).openapi({ description: `${what}, per day of \`range.days\` (local days in \`tz\`)` });

export const OverviewSchema = z
  .object({
    range: z.object({ from: z.string(), to: z.string(), tz: z.string(), botId: z.string().nullable(), startsAt: z.string(), endsAt: z.string(), days: z.array(z.string()) }),
    totals: z.object({
      conversations: z.number().int(),
      messages: z.number().int(),
      uniqueVisitors: z.number().int().openapi({ description: 'Distinct visitors (or signed-in users) with a conversation begun in the range; estimated for large ranges, see rollups.uniqueVisitors' }),
      answered: z.number().int(),
      unanswered: z.number().int(),
      failed: z.number().int(),
      thumbsUp: z.number().int(),
      thumbsDown: z.number().int(),
      thumbsUpRate: z.number().nullable(),
      handoffs: z.number().int(),
      ticketsOpened: z.number().int(),
      ticketsResolved: z.number().int(),
      medianFirstResponseMs: z.number().nullable(),
      leads: z.number().int(),
    }),
    series: z.object({ conversations: z.array(z.number().int()), messages: z.array(z.number().int()) }),
    usage: z.object({
      byModel: z.array(z.object({ provider: z.string(), model: z.string(), promptTokens: z.number(), completionTokens: z.number(), totalTokens: z.number(), costUsd: z.number().nullable() })),
      byProvider: z.array(
        z.object({ provider: z.string(), promptTokens: z.number(), completionTokens: z.number(), totalTokens: z.number(), costUsd: z.number().nullable(), unpricedTokens: z.number() }),
      ),
    }),
    byChannel: z.array(Breakdown),
    byCountry: z.array(Breakdown),
    bySentiment: z.array(Breakdown),
    byHourOfWeek: z
      .array(z.object({ weekday: z.number().int().openapi({ description: '0 = Monday' }), hour: z.number().int(), conversations: z.number().int(), messages: z.number().int() }))
      .openapi({ description: 'The 168 hours of the local week summed over the range: itself a weekly profile, so it has no daily series' }),
    topQuestions: z
      .array(z.object({ key: z.string(), question: z.string(), count: z.number().int(), unanswered: z.number().int(), series: DaySeries('Times asked') }))
      .openapi({ description: `The ${ANALYTICS.topN} most asked questions, near-duplicates grouped by key, shown in their latest wording` }),
    topUnanswered: z
      .array(z.object({ key: z.string(), question: z.string(), count: z.number().int(), series: DaySeries('Times answered with the fallback') }))
      .openapi({ description: `The ${ANALYTICS.topN} questions most often answered with the fallback` }),
    topSources: z
      .array(z.object({ sourceId: z.string(), title: z.string().nullable(), citations: z.number().int(), series: DaySeries('Answers citing the source') }))
      .openapi({ description: `The ${ANALYTICS.topN} most cited sources` }),
    neverCitedSources: z
      .array(z.object({ sourceId: z.string(), title: z.string(), botId: z.string() }))
      .openapi({ description: 'Sources no answer of the range cited: nothing to count per day, so no series' }),
    rollups: z.object({
      rolledUpDays: z.number().openapi({ description: 'Days (fractional for the current day, built up to its last closed hour) read from the rollups' }),
      liveMs: z.number().openapi({ description: 'Time of the range counted live from the raw tables, ms' }),
      uniqueVisitors: z.enum(['exact', 'estimated']).openapi({
        description: `How totals.uniqueVisitors was counted: exactly when the range holds at most ${ANALYTICS.exactVisitorsUpTo} conversations, otherwise estimated from per-day HyperLogLog sketches (4,096 registers: about 1.6% standard error, within 5% for practically every range)`,
      }),
    }),
  })
  .openapi('AnalyticsOverview');

export const ImproveBody = z
  .object({
    answer: z.string().trim().min(1).max(ANSWER_CORRECTION.maxAnswerChars),
    question: z.string().trim().min(1).max(ANSWER_CORRECTION.maxQuestionChars).optional().openapi({ description: 'The question to store; default: the question that was asked' }),
  })
  .strict()
  .openapi('ImproveAnswer');

export const CorrectionSchema = z
  .object({
    id: z.string(),
    botId: z.string(),
    messageId: z.string(),
    feedbackId: z.string().nullable(),
    sourceId: z.string().openapi({ description: 'The Q&A source holding the corrected answer' }),
    question: z.string(),
    answer: z.string(),
    createdAt: z.string(),
  })
  .openapi('AnswerCorrection');

const Instant = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'An ISO 8601 date or date-time')
  .openapi({ example: '2026-03-01T00:00:00Z', format: 'date-time' });

export const FeedbackReviewQuery = PaginationQuery.extend({
  botId: z.string().min(1).max(64).optional(),
  rating: z.enum(FEEDBACK_RATINGS).optional(),
  from: Instant.optional().openapi({ description: 'Rated at or after' }),
  to: Instant.optional().openapi({ description: 'Rated before' }),
  hasComment: z.enum(['true', 'false']).optional(),
});

const CitationSchema = z.object({ n: z.number(), sourceId: z.string(), documentId: z.string(), chunkId: z.string(), title: z.string(), url: z.string().nullable(), snippet: z.string(), score: z.number() });

export const ReviewedFeedbackSchema = z
  .object({
    id: z.string(),
    botId: z.string(),
    conversationId: z.string(),
    messageId: z.string(),
    rating: z.enum(FEEDBACK_RATINGS),
    comment: z.string().nullable(),
    author: z.object({ kind: z.string(), id: z.string() }),
    question: z.string().nullable().openapi({ description: 'The user message the rated answer replied to' }),
    answer: z.string(),
    citations: z.array(CitationSchema),
    unanswered: z.boolean(),
    improvement: z.object({ correctionId: z.string(), sourceId: z.string(), createdAt: z.string() }).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('ReviewedFeedback');

export const UnansweredQuery = z.object({
  botId: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
  cursor: z.string().max(200).optional(),
});

export const UnansweredGroupSchema = z
  .object({
    id: z.string().openapi({ description: 'The latest unanswered message of the group' }),
    botId: z.string(),
    key: z.string().openapi({ description: 'The near-duplicate key the group shares' }),
    question: z.string(),
    count: z.number().int(),
    lastAskedAt: z.string(),
    messages: z.array(z.object({ messageId: z.string(), conversationId: z.string(), question: z.string(), answer: z.string(), createdAt: z.string() })),
  })
  .openapi('UnansweredGroup');
