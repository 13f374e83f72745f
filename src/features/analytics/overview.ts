/**
 * The analytics overview of a local date range: rolled-up UTC days where they exist and are
 * wholly inside the range, the live facts query for the rest (today, days not built yet, and
 * the partial UTC days at the edges of a range in another time zone). Both halves come from the
 * same facts SQL (facts.ts), combined in one statement per table, and everything is read in one
 * D1 batch. `mode: 'live'` skips the rollups entirely (the bench's baseline, and the property
 * test's direct count).
 */
import type { ServiceContext } from '../../context';
import { ANALYTICS } from '../../limits';
import { DAILY_FACTS, FIRST_RESPONSE_METRIC, HOURLY_FACTS, unionAll, withRange } from './facts';
import { DAY_MS, hourOfWeekSql, localDayIndexSql, type LocalRange } from './range';
import { usageByModel, usageByProvider, type ModelUsage, type ProviderUsage } from './pricing';
import { utcDayStart } from './rollup';


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
  topQuestions: { key: string; question: string; count: number; unanswered: number }[];
  topUnanswered: { key: string; question: string; count: number }[];
  topSources: { sourceId: string; title: string | null; citations: number }[];
  neverCitedSources: { sourceId: string; title: string; botId: string }[];
  rollups: { rolledUpDays: number; liveMs: number };
}

/** Runs of rolled-up days and of live time across [start, end), cut at UTC midnights. */
async function segmentsFor(ctx: ServiceContext, input: OverviewInput): Promise<Segment[]> {
  const { start, end } = input.range;
  if (input.mode === 'live') return [{ kind: 'live', from: start, to: end }];
  const today = utcDayStart(ctx.clock.now());
  const { results } = await ctx.env.DB.prepare('SELECT day FROM analytics_rollup_days WHERE org_id = ?1 AND day >= ?2 AND day <= ?3 AND day < ?4')
    .bind(input.orgId, start, end - DAY_MS, today)
    .all<{ day: number }>();
  const built = new Set(results.map((r) => r.day));
  const segments: Segment[] = [];
  for (let day = utcDayStart(start); day < end; day += DAY_MS) {
    const from = Math.max(day, start);
    const to = Math.min(day + DAY_MS, end);
    const kind = built.has(day) ? 'rollup' : 'live';
    const last = segments[segments.length - 1];
    if (last && last.kind === kind && last.to === from) last.to = to;
    else segments.push({ kind, from, to });
  }
  return segments.length > ANALYTICS.maxSegments ? [{ kind: 'live', from: start, to: end }] : segments;
}

/** One UNION ALL over the segments: rolled-up rows or the live facts, each with its own two range parameters. */
function source(segments: Segment[], rollup: (a: string, b: string) => string, facts: string, columns: string) {
  return unionAll(
    segments.map((s, i) => {
      const a = 3 + 2 * i;
      const b = a + 1;
      return s.kind === 'rollup' ? rollup(`?${a}`, `?${b}`) : `SELECT ${columns} FROM (${withRange(facts, a, b)})`;
    }),
  );
}

export async function overview(ctx: ServiceContext, input: OverviewInput): Promise<Overview> {
  const { range } = input;
  const segments = await segmentsFor(ctx, input);
  const binds = [input.orgId, input.botId, ...segments.flatMap((s) => [s.from, s.to])];
  // A range in UTC reads the day sums for its totals and series; any other zone cuts days inside
  // UTC days, so it sums the hours. The hour of the week always reads hours, of two metrics only.
  const utc = range.offsets.every((o) => o.offset === 0);
  const counted = source(
    segments,
    (a, b) =>
      utc
        ? `SELECT bot_id, day AS hour, metric, dim, value FROM analytics_days WHERE org_id = ?1 AND day >= ${a} AND day < ${b}`
        : `SELECT bot_id, hour, metric, dim, value FROM analytics_hourly INDEXED BY analytics_hourly_org_hour_idx WHERE org_id = ?1 AND hour >= ${a} AND hour < ${b}`,
    HOURLY_FACTS,
    'bot_id, hour, metric, dim, value',
  );
  const weekly = source(
    segments,
    (a, b) => `SELECT bot_id, hour, metric, dim, value FROM analytics_hourly WHERE org_id = ?1 AND metric IN ('hour.conversations', 'hour.messages') AND hour >= ${a} AND hour < ${b}`,
    HOURLY_FACTS,
    'bot_id, hour, metric, dim, value',
  );
  const daily = source(
    segments,
    (a, b) => `SELECT bot_id, day, kind, key, sample, count, unanswered FROM analytics_daily WHERE org_id = ?1 AND day >= ${a} AND day < ${b}`,
    DAILY_FACTS,
    'bot_id, day, kind, key, sample, count, unanswered',
  );
  const db = ctx.env.DB;
  const [countedRows, listed, visitors, sources] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `WITH src AS MATERIALIZED (SELECT hour, metric, dim, value FROM (${counted}) WHERE ?2 IS NULL OR bot_id = ?2),
              weekly AS (SELECT hour, substr(metric, 6) AS metric, value FROM (${weekly}) WHERE (?2 IS NULL OR bot_id = ?2) AND metric IN ('hour.conversations', 'hour.messages'))
         SELECT 's' AS part, metric, dim, ${localDayIndexSql(range, 'hour')} AS k, SUM(value) AS v FROM src WHERE metric NOT IN ('${FIRST_RESPONSE_METRIC}', 'hour.conversations', 'hour.messages') GROUP BY metric, dim, k
         UNION ALL
         SELECT 'h', metric, '', ${hourOfWeekSql(range, 'hour')} AS k, SUM(value) FROM weekly GROUP BY metric, k
         UNION ALL
         SELECT 'f', metric, '', 0, value FROM src WHERE metric = '${FIRST_RESPONSE_METRIC}'`,
      )
      .bind(...binds),
    db
      .prepare(
        `WITH src AS MATERIALIZED (SELECT day, kind, key, sample, count, unanswered FROM (${daily}) WHERE ?2 IS NULL OR bot_id = ?2),
              questions AS (SELECT key, sample, SUM(count) AS n, SUM(unanswered) AS u, MAX(day) FROM src WHERE kind = 'question' GROUP BY key)
         SELECT * FROM (SELECT 'q' AS part, key, sample, n, u FROM questions ORDER BY n DESC, key LIMIT ${ANALYTICS.topN})
         UNION ALL
         SELECT * FROM (SELECT 'u', key, sample, u, u FROM questions WHERE u > 0 ORDER BY u DESC, key LIMIT ${ANALYTICS.topN})
         UNION ALL
         SELECT 'c', key, '', SUM(count), 0 FROM src WHERE kind = 'cited' GROUP BY key`,
      )
      .bind(...binds),
    db
      .prepare(
        `SELECT COUNT(DISTINCT COALESCE(visitor_id, user_id)) AS n FROM conversations
          WHERE org_id = ?1 AND created_at >= ?3 AND created_at < ?4 AND (?2 IS NULL OR bot_id = ?2)`,
      )
      .bind(input.orgId, input.botId, range.start, range.end),
    db
      .prepare(`SELECT id, title, bot_id AS botId FROM sources WHERE org_id = ?1 AND (?2 IS NULL OR bot_id = ?2) AND status <> 'deleting' ORDER BY id`)
      .bind(input.orgId, input.botId),
  ]);
  return assemble(input, segments, countedRows!.results, listed!.results, Number((visitors!.results[0] as { n: number } | undefined)?.n ?? 0), sources!.results as { id: string; title: string; botId: string }[]);
}

function assemble(
  input: OverviewInput,
  segments: Segment[],
  counted: Record<string, unknown>[],
  listed: Record<string, unknown>[],
  uniqueVisitors: number,
  sources: { id: string; title: string; botId: string }[],
): Overview {
  const { range } = input;
  const days = range.days.length;
  const total = new Map<string, number>();
  const series = new Map<string, number[]>();
  const byDim = new Map<string, Map<string, number[]>>();
  const how = new Map<number, { conversations: number; messages: number }>();
  const responses: number[] = [];
  const tokens = new Map<string, { prompt: number; completion: number }>();
  for (const row of counted) {
    const metric = String(row.metric);
    const dim = String(row.dim);
    const k = Number(row.k);
    const v = Number(row.v);
    if (row.part === 'f') {
      responses.push(v);
      continue;
    }
    if (row.part === 'h') {
      const slot = how.get(k) ?? { conversations: 0, messages: 0 };
      slot[metric as 'conversations' | 'messages'] += v;
      how.set(k, slot);
      continue;
    }
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
  }
  const n = (key: string) => total.get(key) ?? 0;
  const breakdown = (metric: string, keyOf: (dim: string) => string | null = (d) => d): Breakdown[] =>
    [...(byDim.get(metric) ?? new Map<string, number[]>())]
      .map(([dim, s]) => ({ key: keyOf(dim), conversations: n(`${metric}:${dim}`), series: s }))
      .sort((a, b) => b.conversations - a.conversations || String(a.key).localeCompare(String(b.key)));
  const up = n('feedback:up');
  const down = n('feedback:down');
  const models = usageByModel(tokens);
  const cited = listed.filter((r) => r.part === 'c').map((r) => ({ sourceId: String(r.key), citations: Number(r.n) }));
  const citedIds = new Set(cited.map((c) => c.sourceId));
  const titles = new Map(sources.map((s) => [s.id, s.title]));
  responses.sort((a, b) => a - b);
  const mid = responses.length >> 1;
  return {
    range: { from: range.from, to: range.to, tz: range.tz, botId: input.botId, startsAt: new Date(range.start).toISOString(), endsAt: new Date(range.end).toISOString(), days: range.days },
    totals: {
      conversations: n('conversations'),
      messages: n('messages'),
      uniqueVisitors,
      answered: n('answers:answered'),
      unanswered: n('answers:unanswered'),
      failed: n('answers:failed'),
      thumbsUp: up,
      thumbsDown: down,
      thumbsUpRate: up + down > 0 ? Math.round((up / (up + down)) * 10_000) / 10_000 : null,
      handoffs: n('handoffs'),
      ticketsOpened: n('tickets.opened'),
      ticketsResolved: n('tickets.resolved'),
      medianFirstResponseMs: responses.length === 0 ? null : responses.length % 2 ? responses[mid]! : Math.round((responses[mid - 1]! + responses[mid]!) / 2),
      leads: n('leads'),
    },
    series: { conversations: series.get('conversations') ?? new Array<number>(days).fill(0), messages: series.get('messages') ?? new Array<number>(days).fill(0) },
    usage: { byModel: models, byProvider: usageByProvider(models) },
    byChannel: breakdown('conversations'),
    byCountry: breakdown('country', (d) => (d === '' ? null : d)),
    bySentiment: breakdown('sentiment'),
    byHourOfWeek: Array.from({ length: 168 }, (_, i) => ({ weekday: Math.floor(i / 24), hour: i % 24, ...(how.get(i) ?? { conversations: 0, messages: 0 }) })),
    topQuestions: listed.filter((r) => r.part === 'q').map((r) => ({ key: String(r.key), question: String(r.sample), count: Number(r.n), unanswered: Number(r.u) })),
    topUnanswered: listed.filter((r) => r.part === 'u').map((r) => ({ key: String(r.key), question: String(r.sample), count: Number(r.n) })),
    topSources: cited
      .sort((a, b) => b.citations - a.citations || a.sourceId.localeCompare(b.sourceId))
      .slice(0, ANALYTICS.topN)
      .map((c) => ({ ...c, title: titles.get(c.sourceId) ?? null })),
    neverCitedSources: sources.filter((s) => !citedIds.has(s.id)).slice(0, ANALYTICS.maxNeverCited).map((s) => ({ sourceId: s.id, title: s.title, botId: s.botId })),
    rollups: {
      rolledUpDays: segments.filter((s) => s.kind === 'rollup').reduce((sum, s) => sum + (s.to - s.from) / DAY_MS, 0),
      liveMs: segments.filter((s) => s.kind === 'live').reduce((sum, s) => sum + (s.to - s.from), 0),
    },
  };
}
