/**
 * The analytics overview of a local date range: rolled-up UTC days (and the closed hours of the
 * current day) where they lie wholly inside the range, the live facts query for the rest (the
 * hour in progress, days not built yet, and the partial UTC days at the edges of a range in
 * another time zone). Both halves come from the same facts SQL (facts.ts), combined in one
 * statement per table, and everything is read in one D1 batch. `mode: 'live'` skips the rollups
 * entirely (the bench's baseline, and the property test's direct count).
 *
 * Cost at scale (1M messages over 90 days, README "Analytics overview"): what a D1 call costs is
 * mostly the rows it returns, so the statements aggregate in SQL and pack each series into one
 * row (`k:v,k:v…`), the median first response is picked in SQL, and only the top lists leave the
 * database. Unique visitors are counted exactly for small ranges and merged from per-day
 * HyperLogLog sketches for large ones (hll.ts), instead of a COUNT(DISTINCT) over every
 * conversation of the range.
 */
import type { ServiceContext } from '../../context';
import { ANALYTICS } from '../../limits';
import { DAILY_FACTS, FIRST_RESPONSE_METRIC, HOUR_OF_WEEK_FACTS, HOURLY_FACTS, HOURLY_KEYED_FACTS, spannedKeyedFacts, unionAll, withRange } from './facts';
import { addToSketch, decodeSketch, emptySketch, estimateSketch, mergeSketch } from './hll';
import { DAY_MS, HOUR_MS, hourOfWeekSql, localDayIndex, localDayIndexSql, type LocalRange } from './range';
import { usageByModel, usageByProvider, type ModelUsage, type ProviderUsage } from './pricing';
import { utcDayStart, weekStart, WEEK_MS } from './rollup';

export interface OverviewInput {
  orgId: string;
  botId: string | null;
  range: LocalRange;
  mode?: 'rollups' | 'live';
}

interface Segment {
  kind: 'rollup' | 'live';
  from: number;
  to: number;
  /** Rolled-up days built since migration 0013: with visitor sketches and weekly blocks. */
  current: boolean;
}

export interface Breakdown {
  key: string | null;
  conversations: number;
  series: number[];
}

export interface Overview {
  range: { from: string; to: string; tz: string; botId: string | null; startsAt: string; endsAt: string; days: string[] };
  totals: {
    conversations: number;
    messages: number;
    uniqueVisitors: number;
    answered: number;
    unanswered: number;
    failed: number;
    thumbsUp: number;
    thumbsDown: number;
    thumbsUpRate: number | null;
    handoffs: number;
    ticketsOpened: number;
    ticketsResolved: number;
    medianFirstResponseMs: number | null;
    leads: number;
  };
  series: { conversations: number[]; messages: number[] };
  usage: { byModel: ModelUsage[]; byProvider: ProviderUsage[] };
  byChannel: Breakdown[];
  byCountry: Breakdown[];
  bySentiment: Breakdown[];
  byHourOfWeek: { weekday: number; hour: number; conversations: number; messages: number }[];
  /** Each top item's `series`: its count (questions asked, unanswered, citations) per day of range.days. */
  topQuestions: { key: string; question: string; count: number; unanswered: number; series: number[] }[];
  topUnanswered: { key: string; question: string; count: number; series: number[] }[];
  topSources: { sourceId: string; title: string | null; citations: number; series: number[] }[];
  neverCitedSources: { sourceId: string; title: string; botId: string }[];
  rollups: { rolledUpDays: number; liveMs: number; uniqueVisitors: 'exact' | 'estimated' };
}

/**
 * Runs of rolled-up time and of live time across [start, end), cut at UTC midnights and at the
 * end of the current day's rollup. A day counts as rolled up only when the part it covers lies
 * wholly inside the range.
 */
async function segmentsFor(ctx: ServiceContext, input: OverviewInput): Promise<Segment[]> {
  const { start, end } = input.range;
  if (input.mode === 'live') return [{ kind: 'live', from: start, to: end, current: false }];
  const { results } = await ctx.env.DB.prepare('SELECT day, built_to AS builtTo FROM analytics_rollup_days WHERE org_id = ?1 AND day >= ?2 AND day < ?3')
    .bind(input.orgId, start, end)
    .all<{ day: number; builtTo: number }>();
  const built = new Map(results.map((r) => [r.day, r.builtTo]));
  const segments: Segment[] = [];
  const push = (segment: Segment) => {
    const last = segments[segments.length - 1];
    if (last && last.kind === segment.kind && last.current === segment.current && last.to === segment.from) last.to = segment.to;
    else segments.push(segment);
  };
  for (let day = utcDayStart(start); day < end; day += DAY_MS) {
    const from = Math.max(day, start);
    const to = Math.min(day + DAY_MS, end);
    const builtTo = built.get(day);
    // built_to 0: a whole day built before visitor sketches existed (migration 0013).
    const coveredTo = builtTo === 0 ? day + DAY_MS : builtTo;
    if (coveredTo !== undefined && day >= start && coveredTo > day && coveredTo <= end) {
      push({ kind: 'rollup', from: day, to: coveredTo, current: builtTo !== 0 });
      if (coveredTo < to) push({ kind: 'live', from: coveredTo, to, current: false });
    } else {
      push({ kind: 'live', from, to, current: false });
    }
  }
  return segments.length > ANALYTICS.maxSegments ? [{ kind: 'live', from: start, to: end, current: false }] : segments;
}

/** One UNION ALL over the segments: rolled-up rows or the live facts, each with its own two range parameters. */
function source(segments: Segment[], rollup: (a: string, b: string, segment: Segment) => string, facts: string, columns: string) {
  return unionAll(
    segments.map((s, i) => {
      const a = 3 + 2 * i;
      const b = a + 1;
      return s.kind === 'rollup' ? rollup(`?${a}`, `?${b}`, s) : `SELECT ${columns} FROM (${withRange(facts, a, b)})`;
    }),
  );
}

const NOON_MS = 12 * HOUR_MS;

/**
 * The hours of the UTC days in [from, to) that fall on another local day than their day's noon,
 * as [from, to) spans: none in UTC, 1–2 a day in Berlin, 4–5 in New York. Worked out with the
 * SQL's own day index (localDayIndex), DST included.
 */
function movedHours(range: LocalRange, { from, to }: { from: number; to: number }): [number, number][] {
  const spans: [number, number][] = [];
  for (let day = from; day < to; day += DAY_MS) {
    const home = localDayIndex(range, day + NOON_MS);
    for (let hour = day; hour < Math.min(day + DAY_MS, to); hour += HOUR_MS) {
      if (localDayIndex(range, hour) === home) continue;
      const last = spans[spans.length - 1];
      if (last && last[1] === hour) last[1] = hour + HOUR_MS;
      else spans.push([hour, hour + HOUR_MS]);
    }
  }
  return spans;
}

/**
 * Rolled-up facts placed on the local days of a zone other than UTC, from the day sums plus a
 * correction of the few hours per UTC day that fall on another local day than the day's noon
 * (Berlin: 1–2 hours, New York: 4–5), instead of every hourly row (24 a day per metric and
 * dimension). Each day's sums sit at its noon; each moved hour is added at its own hour and
 * taken away at its day's noon, so totals are unchanged and each local day gets exactly its
 * hours. The moved hours are worked out here with the SQL's own day index (localDayIndex), DST
 * included; only numbers go into the text. First-response times are values, not sums: they come
 * from the day rows alone.
 */
function localDaysFromRollups(range: LocalRange, segment: Segment, a: string, b: string): string {
  const spans = movedHours(range, segment);
  const days = `SELECT bot_id, day + ${NOON_MS} AS hour, metric, dim, value FROM analytics_days WHERE org_id = ?1 AND day >= ${a} AND day < ${b}`;
  if (spans.length === 0) return days;
  // One index range per span (json_each drives the loop), not a scan of the segment's hours.
  const moved = `FROM json_each('${JSON.stringify(spans)}') AS span CROSS JOIN analytics_hourly h
     WHERE h.org_id = ?1 AND h.hour >= json_extract(span.value, '$[0]') AND h.hour < json_extract(span.value, '$[1]')
       AND h.metric NOT IN ('${FIRST_RESPONSE_METRIC}', 'hour.conversations', 'hour.messages')`;
  return `SELECT * FROM (${unionAll([
    days,
    `SELECT h.bot_id, h.hour, h.metric, h.dim, h.value ${moved}`,
    `SELECT h.bot_id, h.hour - h.hour % ${DAY_MS} + ${NOON_MS}, h.metric, h.dim, -h.value ${moved}`,
  ])})`;
}

/**
 * The question and citation rows of the segments: whole 7-day blocks of a rolled-up run from
 * analytics_weekly, its other days from analytics_daily, live runs from the facts.
 */
function dailyPieces(range: LocalRange, segments: Segment[]) {
  const pieces: { from: number; to: number; table: 'analytics_weekly' | 'analytics_daily' | null }[] = [];
  for (const s of segments) {
    if (s.kind === 'live') pieces.push({ from: s.from, to: s.to, table: null });
    else {
      const blocksFrom = s.current ? weekStart(s.from + WEEK_MS - 1) : s.to;
      const blocksTo = s.current ? weekStart(s.to) : s.to;
      if (blocksFrom >= blocksTo) pieces.push({ from: s.from, to: s.to, table: 'analytics_daily' });
      else {
        if (s.from < blocksFrom) pieces.push({ from: s.from, to: blocksFrom, table: 'analytics_daily' });
        pieces.push({ from: blocksFrom, to: blocksTo, table: 'analytics_weekly' });
        if (blocksTo < s.to) pieces.push({ from: blocksTo, to: s.to, table: 'analytics_daily' });
      }
    }
  }
  const columns = 'bot_id, day, kind, key, sample, count, unanswered';
  const sql = unionAll(
    pieces.map((p, i) => {
      const a = `?${3 + 2 * i}`;
      const b = `?${4 + 2 * i}`;
      if (p.table === 'analytics_weekly') return `SELECT bot_id, week AS day, kind, key, sample, count, unanswered FROM analytics_weekly WHERE org_id = ?1 AND week >= ${a} AND week < ${b}`;
      if (p.table === 'analytics_daily') return `SELECT ${columns} FROM analytics_daily WHERE org_id = ?1 AND day >= ${a} AND day < ${b}`;
      return `SELECT ${columns} FROM (${withRange(DAILY_FACTS, 3 + 2 * i, 4 + 2 * i)})`;
    }),
  );
  return { sql, series: seriesSource(range, segments, pieces), ranges: pieces.flatMap((p) => [p.from, p.to]) };
}

/**
 * The rows the top lists' daily series are counted from, for the keys of the statement's
 * `wanted` CTE only (the top items, chosen by their totals first). Columns: bot_id, kind, key,
 * at (a UTC instant whose local day the row counts on), count, unanswered.
 *
 * Over the same pieces and parameters as the totals (dailyPieces), so the split between rolled-up
 * and live time is the same: a rolled-up day's analytics_daily rows (never the 7-day blocks, which
 * have no days) sit at the day's noon; live time is counted per UTC hour. In a zone other than UTC
 * a UTC day lies on two local days, and analytics_daily has no hours: the hours of rolled-up days
 * that fall on another local day than the day's noon (movedHours) are counted from the raw rows,
 * added at their hour and taken away at their day's noon (the same correction as
 * localDaysFromRollups), in one CTE `moved` read once.
 */
function seriesSource(range: LocalRange, segments: Segment[], pieces: { from: number; to: number; table: string | null }[]) {
  const rows = pieces.map((p, i) => {
    const a = `?${3 + 2 * i}`;
    const b = `?${4 + 2 * i}`;
    if (p.table === null) return `SELECT bot_id, kind, key, day AS at, count, unanswered FROM (${withRange(HOURLY_KEYED_FACTS, 3 + 2 * i, 4 + 2 * i)})`;
    return `SELECT bot_id, kind, key, day + ${NOON_MS} AS at, count, unanswered FROM analytics_daily
             WHERE org_id = ?1 AND day >= ${a} AND day < ${b} AND (kind, key) IN (SELECT kind, key FROM wanted)`;
  });
  const spans = segments.filter((s) => s.kind === 'rollup').flatMap((s) => movedHours(range, s));
  return {
    moved: `SELECT bot_id, kind, key, day AS hour, count, unanswered FROM (${spannedKeyedFacts(spans)})`,
    sql: unionAll([
      ...rows,
      'SELECT bot_id, kind, key, hour, count, unanswered FROM moved',
      `SELECT bot_id, kind, key, hour - hour % ${DAY_MS} + ${NOON_MS}, -count, -unanswered FROM moved`,
    ]),
  };
}

/** `k:v,k:v` as packed by group_concat, into pairs. */
function unpack(packed: unknown): [number, number][] {
  if (typeof packed !== 'string' || packed === '') return [];
  return packed.split(',').map((pair) => {
    const at = pair.lastIndexOf(':');
    return [Number(pair.slice(0, at)), Number(pair.slice(at + 1))];
  });
}

export async function overview(ctx: ServiceContext, input: OverviewInput): Promise<Overview> {
  const { range } = input;
  const segments = await segmentsFor(ctx, input);
  const binds = [input.orgId, input.botId, ...segments.flatMap((s) => [s.from, s.to])];
  // A range in UTC reads the day sums for its totals and series; any other zone cuts local days
  // inside UTC days, so it moves the hours that cross (localDaysFromRollups). The hour of the
  // week always reads hours, of two metrics only.
  const utc = range.offsets.every((o) => o.offset === 0);
  const counted = source(
    segments,
    (a, b, segment) =>
      utc ? `SELECT bot_id, day AS hour, metric, dim, value FROM analytics_days WHERE org_id = ?1 AND day >= ${a} AND day < ${b}` : localDaysFromRollups(range, segment, a, b),
    HOURLY_FACTS,
    'bot_id, hour, metric, dim, value',
  );
  const hoursOfWeek = source(
    segments,
    (a, b) => `SELECT bot_id, hour, metric, dim, value FROM analytics_hourly WHERE org_id = ?1 AND metric IN ('hour.conversations', 'hour.messages') AND hour >= ${a} AND hour < ${b}`,
    HOUR_OF_WEEK_FACTS,
    'bot_id, hour, metric, dim, value',
  );
  const daily = dailyPieces(range, segments);
  const db = ctx.env.DB;
  const visitors = visitorStatements(ctx, input, segments);
  const [countedRows, listed, ...visitorResults] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `WITH src AS MATERIALIZED (SELECT hour, metric, dim, value FROM (${counted}) WHERE ?2 IS NULL OR bot_id = ?2),
              weekly AS (SELECT hour, substr(metric, 6) AS metric, value FROM (${hoursOfWeek}) WHERE (?2 IS NULL OR bot_id = ?2) AND metric IN ('hour.conversations', 'hour.messages')),
              cells AS (SELECT metric, dim, ${localDayIndexSql(range, 'hour')} AS k, SUM(value) AS v FROM src WHERE metric NOT IN ('${FIRST_RESPONSE_METRIC}', 'hour.conversations', 'hour.messages') GROUP BY metric, dim, k),
              how AS (SELECT metric, ${hourOfWeekSql(range, 'hour')} AS k, SUM(value) AS v FROM weekly GROUP BY metric, k),
              responses AS (SELECT value FROM src WHERE metric = '${FIRST_RESPONSE_METRIC}')
         SELECT 's' AS part, metric, dim, group_concat(k || ':' || v) AS packed FROM cells GROUP BY metric, dim
         UNION ALL
         SELECT 'h', metric, '', group_concat(k || ':' || v) FROM how GROUP BY metric
         UNION ALL
         SELECT * FROM (
           SELECT 'f', '', '', value FROM responses ORDER BY value
            LIMIT 2 - (SELECT COUNT(*) FROM responses) % 2 OFFSET ((SELECT COUNT(*) FROM responses) - 1) / 2
         )`,
      )
      .bind(...binds),
    db
      .prepare(
        `WITH src AS MATERIALIZED (SELECT day, kind, key, sample, count, unanswered FROM (${daily.sql}) WHERE ?2 IS NULL OR bot_id = ?2),
              questions AS (SELECT key, sample, SUM(count) AS n, SUM(unanswered) AS u, MAX(day) FROM src WHERE kind = 'question' GROUP BY key),
              cited AS (SELECT key, SUM(count) AS n FROM src WHERE kind = 'cited' GROUP BY key),
              top_questions AS (SELECT key, sample, n, u FROM questions ORDER BY n DESC, key LIMIT ${ANALYTICS.topN}),
              top_unanswered AS (SELECT key, sample, u FROM questions WHERE u > 0 ORDER BY u DESC, key LIMIT ${ANALYTICS.topN}),
              top_cited AS (SELECT key, n FROM cited ORDER BY n DESC, key LIMIT ${ANALYTICS.topN}),
              wanted AS (SELECT 'question' AS kind, key FROM top_questions UNION SELECT 'question', key FROM top_unanswered UNION SELECT 'cited', key FROM top_cited),
              moved AS MATERIALIZED (${daily.series.moved}),
              cells AS (
                SELECT kind, key, ${localDayIndexSql(range, 'at')} AS k, SUM(count) AS n, SUM(unanswered) AS u
                  FROM (${daily.series.sql}) WHERE ?2 IS NULL OR bot_id = ?2 GROUP BY kind, key, k
              ),
              packed AS (SELECT kind, key, group_concat(k || ':' || n) AS n, group_concat(k || ':' || u) AS u FROM cells GROUP BY kind, key),
              listed_sources AS (SELECT id, title, bot_id FROM sources WHERE org_id = ?1 AND (?2 IS NULL OR bot_id = ?2) AND status <> 'deleting')
         SELECT * FROM (
           SELECT 'q' AS part, t.key, t.sample, t.n, t.u, p.n AS series FROM top_questions t LEFT JOIN packed p ON p.kind = 'question' AND p.key = t.key ORDER BY t.n DESC, t.key
         )
         UNION ALL
         SELECT * FROM (SELECT 'u', t.key, t.sample, t.u, t.u, p.u FROM top_unanswered t LEFT JOIN packed p ON p.kind = 'question' AND p.key = t.key ORDER BY t.u DESC, t.key)
         UNION ALL
         SELECT * FROM (
           SELECT 'c', c.key, s.title, c.n, 0, p.n FROM top_cited c
             LEFT JOIN sources s ON s.id = c.key AND s.org_id = ?1 AND (?2 IS NULL OR s.bot_id = ?2) AND s.status <> 'deleting'
             LEFT JOIN packed p ON p.kind = 'cited' AND p.key = c.key
            ORDER BY c.n DESC, c.key
         )
         UNION ALL
         SELECT * FROM (SELECT 'n', id, title, 0, bot_id, NULL FROM listed_sources WHERE id NOT IN (SELECT key FROM cited WHERE key IS NOT NULL) ORDER BY id LIMIT ${ANALYTICS.maxNeverCited})`,
      )
      .bind(input.orgId, input.botId, ...daily.ranges),
    ...visitors.statements,
  ]);
  const unique = await visitors.count(visitorResults.map((r) => r!.results));
  return assemble(input, segments, countedRows!.results, listed!.results, unique);
}

/** Unique visitors, and whether they were counted or estimated. */
interface VisitorCount {
  n: number;
  how: 'exact' | 'estimated';
}

/**
 * Unique visitors. Exact (COUNT DISTINCT) when the range holds at most
 * ANALYTICS.exactVisitorsUpTo conversations, or in live mode; otherwise the union of the
 * rolled-up days' sketches plus the live parts' visitor ids, estimated (about 1.6% standard
 * error). Each statement checks the size itself (a bounded count of index entries), so one batch
 * serves both cases and the other's statements return nothing.
 */
function visitorStatements(ctx: ServiceContext, input: OverviewInput, segments: Segment[]) {
  const db = ctx.env.DB;
  const { start, end } = input.range;
  const exactSql = `SELECT COUNT(DISTINCT COALESCE(visitor_id, user_id)) FROM conversations
    WHERE org_id = ?1 AND created_at >= ?3 AND created_at < ?4 AND (?2 IS NULL OR bot_id = ?2)`;
  const exact = () => db.prepare(`SELECT (${exactSql}) AS n`).bind(input.orgId, input.botId, start, end);
  if (input.mode === 'live') {
    return { statements: [exact()], count: async ([rows]: Record<string, unknown>[][]) => ({ n: Number(rows![0]?.n ?? 0), how: 'exact' as const }) };
  }
  const limit = ANALYTICS.exactVisitorsUpTo + 1;
  const large = `(SELECT COUNT(*) FROM (SELECT 1 FROM conversations WHERE org_id = ?1 AND created_at >= ?3 AND created_at < ?4 AND (?2 IS NULL OR bot_id = ?2) LIMIT ?5)) >= ?5`;
  const liveSpans = segments.filter((s) => s.kind === 'live' || !s.current);
  const liveIds = liveSpans.length
    ? unionAll(
        liveSpans.map(
          (_, i) => `SELECT DISTINCT COALESCE(visitor_id, user_id) AS v FROM conversations
           WHERE org_id = ?1 AND created_at >= ?${6 + 2 * i} AND created_at < ?${7 + 2 * i} AND (?2 IS NULL OR bot_id = ?2) AND COALESCE(visitor_id, user_id) IS NOT NULL`,
        ),
      )
    : 'SELECT NULL AS v WHERE 0';
  const binds = [input.orgId, input.botId, start, end, limit];
  const statements = [
    db.prepare(`SELECT CASE WHEN NOT ${large} THEN (${exactSql}) END AS n`).bind(...binds),
    db.prepare(`SELECT day, registers FROM analytics_visitor_sketches WHERE org_id = ?1 AND day >= ?3 AND day < ?4 AND (?2 IS NULL OR bot_id = ?2) AND ${large}`).bind(...binds),
    db.prepare(`SELECT v FROM (${liveIds}) WHERE ${large} LIMIT ${ANALYTICS.maxLiveVisitorIds + 1}`).bind(...binds, ...liveSpans.flatMap((s) => [s.from, s.to])),
  ];
  const count = async ([exactRows, sketchRows, idRows]: Record<string, unknown>[][]): Promise<VisitorCount> => {
    const n = exactRows![0]?.n;
    if (n !== null && n !== undefined) return { n: Number(n), how: 'exact' };
    // Too many live visitors to hash here (many days not rolled up yet): count exactly instead.
    if (idRows!.length > ANALYTICS.maxLiveVisitorIds) return { n: Number((await exact().first<{ n: number }>())?.n ?? 0), how: 'exact' };
    const union = emptySketch();
    for (const row of sketchRows!) {
      const day = Number(row.day);
      if (!segments.some((s) => s.kind === 'rollup' && s.current && day >= s.from && day < s.to)) continue;
      const registers = decodeSketch(String(row.registers));
      // A sketch that cannot be read is a broken row, not a reason to guess: count exactly.
      if (!registers) return { n: Number((await exact().first<{ n: number }>())?.n ?? 0), how: 'exact' };
      mergeSketch(union, registers);
    }
    for (const row of idRows!) addToSketch(union, String(row.v));
    return { n: estimateSketch(union), how: 'estimated' };
  };
  return { statements, count };
}

function assemble(
  input: OverviewInput,
  segments: Segment[],
  counted: Record<string, unknown>[],
  listed: Record<string, unknown>[],
  visitors: VisitorCount,
): Overview {
  const { range } = input;
  const days = range.days.length;
  const total = new Map<string, number>();
  const series = new Map<string, number[]>();
  const byDim = new Map<string, Map<string, number[]>>();
  const how = new Map<number, { conversations: number; messages: number }>();
  const responses: number[] = [];
  const tokens = new Map<string, { prompt: number; completion: number }>();
  const add = (metric: string, dim: string, k: number, v: number) => {
    total.set(metric, (total.get(metric) ?? 0) + v);
    total.set(`${metric}:${dim}`, (total.get(`${metric}:${dim}`) ?? 0) + v);
    if (k >= 0 && k < days) {
      const s = series.get(metric) ?? new Array<number>(days).fill(0);
      s[k]! += v;
      series.set(metric, s);
      const dims = byDim.get(metric) ?? new Map<string, number[]>();
      const d = dims.get(dim) ?? new Array<number>(days).fill(0);
      d[k]! += v;
      dims.set(dim, d);
      byDim.set(metric, dims);
    }
    if (metric === 'tokens.prompt' || metric === 'tokens.completion') {
      const t = tokens.get(dim) ?? { prompt: 0, completion: 0 };
      if (metric === 'tokens.prompt') t.prompt += v;
      else t.completion += v;
      tokens.set(dim, t);
    }
  };
  for (const row of counted) {
    const metric = String(row.metric);
    if (row.part === 'f') {
      // The one or two middle first-response times, picked in SQL.
      responses.push(Number(row.packed));
      continue;
    }
    if (row.part === 'h') {
      for (const [k, v] of unpack(row.packed)) {
        const slot = how.get(k) ?? { conversations: 0, messages: 0 };
        slot[metric as 'conversations' | 'messages'] += v;
        how.set(k, slot);
      }
      continue;
    }
    const dim = String(row.dim);
    for (const [k, v] of unpack(row.packed)) add(metric, dim, k, v);
  }
  const n = (key: string) => total.get(key) ?? 0;
  /** A top item's packed `k:v` cells as one count per day of the range. */
  const daySeries = (packed: unknown) => {
    const out = new Array<number>(days).fill(0);
    for (const [k, v] of unpack(packed)) if (k >= 0 && k < days) out[k]! += v;
    return out;
  };
  const breakdown = (metric: string, keyOf: (dim: string) => string | null = (d) => d): Breakdown[] =>
    [...(byDim.get(metric) ?? new Map<string, number[]>())]
      .map(([dim, s]) => ({ key: keyOf(dim), conversations: n(`${metric}:${dim}`), series: s }))
      .sort((a, b) => b.conversations - a.conversations || String(a.key).localeCompare(String(b.key)));
  const up = n('feedback:up');
  const down = n('feedback:down');
  const models = usageByModel(tokens);
  responses.sort((a, b) => a - b);
  return {
    range: { from: range.from, to: range.to, tz: range.tz, botId: input.botId, startsAt: new Date(range.start).toISOString(), endsAt: new Date(range.end).toISOString(), days: range.days },
    totals: {
      conversations: n('conversations'),
      messages: n('messages'),
      uniqueVisitors: visitors.n,
      answered: n('answers:answered'),
      unanswered: n('answers:unanswered'),
      failed: n('answers:failed'),
      thumbsUp: up,
      thumbsDown: down,
      thumbsUpRate: up + down > 0 ? Math.round((up / (up + down)) * 10_000) / 10_000 : null,
      handoffs: n('handoffs'),
      ticketsOpened: n('tickets.opened'),
      ticketsResolved: n('tickets.resolved'),
      medianFirstResponseMs: responses.length === 0 ? null : responses.length === 1 ? responses[0]! : Math.round((responses[0]! + responses[1]!) / 2),
      leads: n('leads'),
    },
    series: { conversations: series.get('conversations') ?? new Array<number>(days).fill(0), messages: series.get('messages') ?? new Array<number>(days).fill(0) },
    usage: { byModel: models, byProvider: usageByProvider(models) },
    byChannel: breakdown('conversations'),
    byCountry: breakdown('country', (d) => (d === '' ? null : d)),
    bySentiment: breakdown('sentiment'),
    byHourOfWeek: Array.from({ length: 168 }, (_, i) => ({ weekday: Math.floor(i / 24), hour: i % 24, ...(how.get(i) ?? { conversations: 0, messages: 0 }) })),
    topQuestions: listed.filter((r) => r.part === 'q').map((r) => ({ key: String(r.key), question: String(r.sample), count: Number(r.n), unanswered: Number(r.u), series: daySeries(r.series) })),
    topUnanswered: listed.filter((r) => r.part === 'u').map((r) => ({ key: String(r.key), question: String(r.sample), count: Number(r.n), series: daySeries(r.series) })),
    topSources: listed.filter((r) => r.part === 'c').map((r) => ({ sourceId: String(r.key), title: r.sample === null ? null : String(r.sample), citations: Number(r.n), series: daySeries(r.series) })),
    neverCitedSources: listed.filter((r) => r.part === 'n').map((r) => ({ sourceId: String(r.key), title: String(r.sample), botId: String(r.u) })),
    rollups: {
      rolledUpDays: segments.filter((s) => s.kind === 'rollup').reduce((sum, s) => sum + (s.to - s.from) / DAY_MS, 0),
      liveMs: segments.filter((s) => s.kind === 'live').reduce((sum, s) => sum + (s.to - s.from), 0),
      uniqueVisitors: visitors.how,
    },
  };
}
