/**
 * The facts analytics counts, as SQL over the raw tables for one time range. The same text both
 * builds the rollups (INSERT … SELECT into analytics_hourly / analytics_daily for one UTC day)
 * and answers live (today, days not rolled up yet, the edges of a range that cut a UTC day), so
 * a rollup cannot drift from a direct count: they are the same query.
 *
 * Placeholders: `?1` is the org id; `{F}` and `{T}` are replaced by the caller's parameter
 * numbers for the range [from, to) in epoch ms, so one statement can hold several ranges while
 * staying far below D1's 100 bound parameters.
 *
 * Buckets: hourly facts by the UTC hour an event happened in; conversations count in the hour
 * they were created, with their current sentiment and country; questions and citations by UTC day.
 */

/** Terms per compound SELECT, under D1's limit of 5. */
const COMPOUND_TERMS = 4;
const HOUR = 'created_at - created_at % 3600000';
const DAY = 'created_at - created_at % 86400000';
const inRange = (alias = '') => `${alias}org_id = ?1 AND ${alias}created_at >= {F} AND ${alias}created_at < {T}`;

/** Outbox event types from the handoff slice that analytics counts, and the metric each becomes. */
export const COUNTED_EVENTS = {
  'conversation.handoff_requested': 'handoffs',
  'escalation.created': 'tickets.opened',
  'escalation.resolved': 'tickets.resolved',
} as const;

export const FIRST_RESPONSE_METRIC = 'handoff.first_response_ms';

/**
 * UNION ALL of many SELECTs as a tree of small compounds: D1 caps the terms of one compound
 * SELECT (SQLITE_LIMIT_COMPOUND_SELECT is 5 there), and a subquery is a compound of its own.
 */
export function unionAll(parts: string[]): string {
  if (parts.length <= COMPOUND_TERMS) return parts.join('\nUNION ALL\n');
  const groups: string[] = [];
  for (let i = 0; i < parts.length; i += COMPOUND_TERMS) groups.push(`SELECT * FROM (${unionAll(parts.slice(i, i + COMPOUND_TERMS))})`);
  return unionAll(groups);
}

// Dimensionless per-hour counts for the hour of the week: two rows an hour, however many channels.
// Named columns, so they also stand as a compound of their own (HOUR_OF_WEEK_FACTS).
const HOUR_OF_WEEK_PARTS = [
  `SELECT bot_id, ${HOUR} AS hour, 'hour.conversations' AS metric, '' AS dim, COUNT(*) AS value
  FROM conversations WHERE ${inRange()} GROUP BY 1, 2`,
  `SELECT bot_id, ${HOUR}, 'hour.messages', '', COUNT(*)
  FROM messages WHERE ${inRange()} GROUP BY 1, 2`,
];

/** Columns: bot_id, hour, metric, dim, value. */
export const HOURLY_FACTS = unionAll([
  `SELECT bot_id, ${HOUR} AS hour, 'conversations' AS metric, channel AS dim, COUNT(*) AS value
  FROM conversations WHERE ${inRange()} GROUP BY bot_id, hour, dim`,
  ...HOUR_OF_WEEK_PARTS,
  `SELECT bot_id, ${HOUR}, 'country', COALESCE(country, ''), COUNT(*)
  FROM conversations WHERE ${inRange()} GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'sentiment', CASE WHEN sentiment > 0 THEN 'positive' WHEN sentiment < 0 THEN 'negative' ELSE 'neutral' END, COUNT(*)
  FROM conversations WHERE ${inRange()} GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'messages', role, COUNT(*)
  FROM messages WHERE ${inRange()} GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'answers', CASE WHEN error IS NOT NULL THEN 'failed' WHEN unanswered THEN 'unanswered' ELSE 'answered' END, COUNT(*)
  FROM messages WHERE ${inRange()} AND role = 'assistant' GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'tokens.prompt', model, SUM(COALESCE(json_extract(usage, '$.promptTokens'), 0))
  FROM messages WHERE ${inRange()} AND role = 'assistant' AND usage IS NOT NULL AND model IS NOT NULL GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'tokens.completion', model, SUM(COALESCE(json_extract(usage, '$.completionTokens'), 0))
  FROM messages WHERE ${inRange()} AND role = 'assistant' AND usage IS NOT NULL AND model IS NOT NULL GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'feedback', rating, COUNT(*)
  FROM message_feedback WHERE ${inRange()} GROUP BY 1, 2, 4`,
  `SELECT bot_id, ${HOUR}, 'leads', '', COUNT(*)
  FROM leads WHERE ${inRange()} GROUP BY 1, 2`,
  `SELECT COALESCE(bot_id, ''), ${HOUR},
       CASE type ${Object.entries(COUNTED_EVENTS).map(([type, metric]) => `WHEN '${type}' THEN '${metric}'`).join(' ')} END, '', COUNT(*)
  FROM outbox_events WHERE org_id = ?1 AND type IN (${Object.keys(COUNTED_EVENTS).map((t) => `'${t}'`).join(', ')})
   AND created_at >= {F} AND created_at < {T} GROUP BY 1, 2, 3`,
  `SELECT bot_id, hour, '${FIRST_RESPONSE_METRIC}', id, responded - created_at FROM (
  SELECT COALESCE(e.bot_id, '') AS bot_id, e.created_at - e.created_at % 3600000 AS hour, e.id, e.created_at,
         (SELECT MIN(m.created_at) FROM messages m
           WHERE m.conversation_id = e.conversation_id AND m.role = 'agent' AND m.created_at >= e.created_at) AS responded
    FROM outbox_events e
   WHERE e.org_id = ?1 AND e.type = 'conversation.handoff_requested' AND e.created_at >= {F} AND e.created_at < {T}
) WHERE responded IS NOT NULL`,
]);

/** Only HOURLY_FACTS' `hour.conversations` and `hour.messages` rows (the hour of the week), same columns. */
export const HOUR_OF_WEEK_FACTS = unionAll(HOUR_OF_WEEK_PARTS);

/**
 * Questions (by near-duplicate key, with how many got the fallback) and citations (by source),
 * per bot, bucket and key. Columns: bot_id, day (the bucket's start), kind, key, sample, count,
 * unanswered.
 *
 * `bucket` is the UTC day (the rollups, the top lists' totals) or the UTC hour (the top lists'
 * daily series: a local day of another zone cuts UTC days at an hour). `wanted`: only the keys
 * of the enclosing statement's `wanted` CTE (kind, key), so a series reads its top items only.
 * `spans`: a JSON array of [from, to) ranges (numbers the caller computed, never input) read in
 * one statement, each one index range, instead of the {F}/{T} range. (json_each has a column
 * `key`: grouping names u.question_key, not the alias.)
 */
function keyedFacts(bucket: string, options: { wanted?: boolean; spans?: string } = {}): string {
  const spanJoin = options.spans === undefined ? '' : `json_each('${options.spans}') AS span CROSS JOIN `;
  const range = (alias: string) =>
    options.spans === undefined ? inRange(alias) : `${alias}org_id = ?1 AND ${alias}created_at >= json_extract(span.value, '$[0]') AND ${alias}created_at < json_extract(span.value, '$[1]')`;
  const wanted = (kind: string, column: string) => (options.wanted ? ` AND ${column} IN (SELECT key FROM wanted WHERE kind = '${kind}')` : '');
  return unionAll([
    `SELECT bot_id, day, 'question' AS kind, key, sample, count, unanswered FROM (
  SELECT u.bot_id, u.${bucket} AS day, u.question_key AS key, substr(u.content, 1, 300) AS sample, COUNT(*) AS count,
         SUM(EXISTS (SELECT 1 FROM messages a
                      WHERE a.conversation_id = u.conversation_id AND a.reply_to = u.id AND a.role = 'assistant' AND a.unanswered = 1)) AS unanswered,
         MAX(u.seq) AS latest
    FROM ${spanJoin}messages u
   WHERE ${range('u.')} AND u.role = 'user' AND u.question_key IS NOT NULL AND u.question_key <> ''${wanted('question', 'u.question_key')}
   GROUP BY u.bot_id, day, u.question_key
)`,
    `SELECT m.bot_id, m.${bucket}, 'cited', json_extract(j.value, '$.sourceId'), '', COUNT(DISTINCT m.id), 0
  FROM ${spanJoin}messages m, json_each(m.citations) j
 WHERE ${range('m.')} AND m.role = 'assistant' AND m.citations <> '[]' AND json_extract(j.value, '$.sourceId') IS NOT NULL${wanted('cited', "json_extract(j.value, '$.sourceId')")}
 GROUP BY 1, 2, 4`,
  ]);
}

/** Per UTC day: what analytics_daily holds, and the live part of the top lists' totals. */
export const DAILY_FACTS = keyedFacts(DAY);

/** Per UTC hour, the `wanted` keys only: the live part of the top lists' daily series. */
export const HOURLY_KEYED_FACTS = keyedFacts(HOUR, { wanted: true });

/** The same over `spans` ([from, to) pairs, JSON): the hours of rolled-up days that fall on another local day than the day's noon. */
export const spannedKeyedFacts = (spans: [number, number][]) => keyedFacts(HOUR, { wanted: true, spans: JSON.stringify(spans) });

/** A facts template with its range placeholders bound to parameter numbers `from` and `to`. */
export function withRange(template: string, from: number, to: number): string {
  return template.replaceAll('{F}', `?${from}`).replaceAll('{T}', `?${to}`);
}
