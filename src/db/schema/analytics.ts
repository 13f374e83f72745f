import { sqliteTable, text, integer, index, primaryKey, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

/**
 * Hourly rollup of the counters the analytics overview sums (src/features/analytics/facts.ts
 * writes them): one row per (org, bot, UTC hour, metric, dimension). Hourly UTC buckets let a
 * reader in any whole-hour time zone cut days and hours of the week exactly. A UTC day's rows
 * are replaced together in one batch, so rebuilding a day never double-counts.
 */
export const analyticsHourly = sqliteTable(
  'analytics_hourly',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    /** Start of the UTC hour, epoch milliseconds. */
    hour: integer('hour').notNull(),
    botId: text('bot_id').notNull(),
    /** e.g. `conversations` (dim: channel), `country`, `sentiment`, `messages` (dim: role), `tokens.prompt` (dim: model). */
    metric: text('metric').notNull(),
    dim: text('dim').notNull().default(''),
    value: integer('value').notNull(),
  },
  // Metric first: the hour-of-week reads two metrics over a long range without the rest.
  (t) => [primaryKey({ columns: [t.orgId, t.metric, t.hour, t.botId, t.dim] }), index('analytics_hourly_org_hour_idx').on(t.orgId, t.hour)],
);

/**
 * The hourly rows summed per UTC day (built in the same batch): what a UTC-aligned range reads
 * for its totals and daily series, 24 times fewer rows than the hours.
 */
export const analyticsDays = sqliteTable(
  'analytics_days',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    /** Start of the UTC day, epoch milliseconds. */
    day: integer('day').notNull(),
    botId: text('bot_id').notNull(),
    metric: text('metric').notNull(),
    dim: text('dim').notNull().default(''),
    value: integer('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day, t.botId, t.metric, t.dim] })],
);

/**
 * Daily (UTC) rollup of what has too many keys for hourly rows: questions by their
 * near-duplicate key (asked, and answered with the fallback), and citations by source.
 * Ranges that cut a UTC day read that day's edge live.
 */
export const analyticsDaily = sqliteTable(
  'analytics_daily',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    /** Start of the UTC day, epoch milliseconds. */
    day: integer('day').notNull(),
    botId: text('bot_id').notNull(),
    /** `question` (key: question key) or `cited` (key: source id). */
    kind: text('kind').notNull(),
    key: text('key').notNull(),
    /** A question's most recent wording that day (shown for the group); empty for sources. */
    sample: text('sample').notNull().default(''),
    count: integer('count').notNull(),
    /** Questions only: how many got the fallback (unanswered). */
    unanswered: integer('unanswered').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day, t.botId, t.kind, t.key] })],
);

/**
 * The daily question and citation rows summed per 7-day block (epoch-aligned: `week` is a
 * multiple of 7 days since 1970-01-01), rebuilt in the batch of each of its days. A long range
 * reads whole blocks and only its edge days from analytics_daily, a third of the rows to group.
 */
export const analyticsWeekly = sqliteTable(
  'analytics_weekly',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    /** Start of the block, epoch milliseconds. */
    week: integer('week').notNull(),
    botId: text('bot_id').notNull(),
    kind: text('kind').notNull(),
    key: text('key').notNull(),
    /** The wording of the block's latest day. */
    sample: text('sample').notNull().default(''),
    count: integer('count').notNull(),
    unanswered: integer('unanswered').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.week, t.botId, t.kind, t.key] })],
);

/**
 * Which UTC days of an org are rolled up, how far, and when: days not listed are read live. A
 * closed day is built to its end; the current day to the end of its last closed hour, so only
 * the hour in progress is read live.
 */
export const analyticsRollupDays = sqliteTable(
  'analytics_rollup_days',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    day: integer('day').notNull(),
    builtAt: integer('built_at').notNull(),
    /**
     * The rollup covers [day, builtTo), epoch ms: day + 24 h for a closed day, an hour boundary
     * for the current one. 0: a whole day built before migration 0013, without visitor sketches
     * or weekly blocks (read as rolled up, its visitors and blocks from the raw rows).
     */
    builtTo: integer('built_to').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day] })],
);

/**
 * Distinct visitors of one bot on one UTC day (up to the day's builtTo) as a HyperLogLog sketch
 * (src/features/analytics/hll.ts): the union of a range's days is what a long range's unique
 * visitors are estimated from, without reading its conversations. Built in the day's batch.
 */
export const analyticsVisitorSketches = sqliteTable(
  'analytics_visitor_sketches',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    day: integer('day').notNull(),
    botId: text('bot_id').notNull(),
    /** 4,096 one-byte registers, base64. */
    registers: text('registers').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day, t.botId] })],
);

/**
 * A corrected answer: a rated or unanswered assistant message turned into a Q&A source of its
 * bot. One per message, so improving twice is a conflict rather than a second source.
 */
export const answerCorrections = sqliteTable(
  'answer_corrections',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    botId: text('bot_id').notNull(),
    messageId: text('message_id').notNull(),
    /** The feedback it was made from, when it came from the feedback review. */
    feedbackId: text('feedback_id'),
    sourceId: text('source_id').notNull(),
    question: text('question').notNull(),
    answer: text('answer').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('answer_corrections_message_idx').on(t.messageId), index('answer_corrections_org_idx').on(t.orgId, t.id)],
);
