/**
 * Analytics through the Worker: the overview and a bot's analytics over a seeded history (every
 * count, the breakdowns with their daily series, top lists, token cost), CSV tables, time zones,
 * rollups built by the cron and the queue, a property test that rollups equal a direct count
 * over random histories, re-running a day changing nothing, bad input and other orgs.
 *
 * History is written straight into D1 with chosen timestamps (the chat pipeline that writes it
 * in production is tested on its own); rollups cover closed UTC days in the past.
 */
import { env, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import worker from '../../src/index';
import { call, expectProblem, register, type Account } from '../support/api';
import { joinAs } from '../support/accounts';
import { newId } from '../../src/lib/ids';
import { questionKeyOf } from '../../src/lib/text/question-key';
import { sentimentScore } from '../../src/lib/text/sentiment';
import { jobContext } from '../../src/jobs/context';
import { buildRollupDay } from '../../src/features/analytics/rollup';
import { overview } from '../../src/features/analytics/overview';
import { localDate, localRange } from '../../src/features/analytics/range';
import { addToSketch, emptySketch, estimateSketch } from '../../src/features/analytics/hll';
import { ANALYTICS } from '../../src/limits';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const todayUtc = () => Math.floor(Date.now() / DAY) * DAY;
const hourUtc = () => Math.floor(Date.now() / HOUR) * HOUR;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

interface SeedConversation {
  orgId: string;
  botId: string;
  at: number;
  channel?: string;
  country?: string | null;
  visitorId?: string | null;
  /** [question, answer kind] pairs; the user message `at`, the answer a second later. */
  turns?: { question: string; answer?: 'answered' | 'unanswered' | 'failed'; model?: string; tokens?: [number, number]; sourceId?: string; rating?: 'up' | 'down' }[];
  handoff?: { at: number; agentAfterMs?: number };
  tickets?: ('escalation.created' | 'escalation.resolved')[];
  lead?: boolean;
}

/** Writes one conversation and everything around it, as the services would have. */
async function seed(c: SeedConversation) {
  const cnv = newId('cnv', { now: () => c.at });
  const sentiment = (c.turns ?? []).reduce((s, t) => s + sentimentScore(t.question), 0);
  const statements: D1PreparedStatement[] = [
    env.DB.prepare(
      `INSERT INTO conversations (id, org_id, bot_id, channel, visitor_id, title, status, country, sentiment, message_count, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, '', 'open', ?, ?, 0, ?, ?)`,
    ).bind(cnv, c.orgId, c.botId, c.channel ?? 'widget', c.visitorId ?? null, c.country ?? null, sentiment, c.at, c.at),
  ];
  const insertMessage = (m: { id: string; role: string; content: string; at: number; replyTo?: string; unanswered?: boolean; error?: boolean; model?: string; tokens?: [number, number]; citations?: string }) =>
    env.DB.prepare(
      `INSERT INTO messages (id, org_id, bot_id, conversation_id, role, content, citations, reply_to, model, usage, unanswered, error, question_key, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).bind(
      m.id,
      c.orgId,
      c.botId,
      cnv,
      m.role,
      m.content,
      m.citations ?? '[]',
      m.replyTo ?? null,
      m.model ?? null,
      m.tokens ? JSON.stringify({ promptTokens: m.tokens[0], completionTokens: m.tokens[1], totalTokens: m.tokens[0] + m.tokens[1] }) : null,
      m.unanswered ? 1 : 0,
      m.error ? JSON.stringify({ code: 'model_failed', detail: 'x' }) : null,
      m.role === 'user' ? questionKeyOf(m.content) : null,
      m.at,
    );
  (c.turns ?? []).forEach((t, i) => {
    const at = c.at + i * 2000;
    const user = newId('msg', { now: () => at });
    const answer = newId('msg', { now: () => at + 1000 });
    statements.push(insertMessage({ id: user, role: 'user', content: t.question, at }));
    statements.push(
      insertMessage({
        id: answer,
        role: 'assistant',
        content: t.answer === 'unanswered' ? 'Sorry, I do not know.' : 'An answer.',
        at: at + 1000,
        replyTo: user,
        unanswered: t.answer === 'unanswered',
        error: t.answer === 'failed',
        model: t.model ?? 'offline:extractive',
        tokens: t.tokens,
        citations: t.sourceId ? JSON.stringify([{ n: 1, sourceId: t.sourceId, documentId: 'doc_x', chunkId: 'chk_x', title: 't', url: null, snippet: '', score: 1 }]) : undefined,
      }),
    );
    if (t.rating) {
      statements.push(
        env.DB.prepare(
          `INSERT INTO message_feedback (id, org_id, bot_id, conversation_id, message_id, rating, comment, author_kind, author_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, NULL, 'member', ?, ?, ?)`,
        ).bind(newId('fbk'), c.orgId, c.botId, cnv, answer, t.rating, 'usr_x', at + 1500, at + 1500),
      );
    }
  });
  const event = (type: string, at: number) =>
    env.DB.prepare(`INSERT INTO outbox_events (id, org_id, type, bot_id, conversation_id, data, created_at) VALUES (?, ?, ?, ?, ?, '{}', ?)`).bind(newId('whe'), c.orgId, type, c.botId, cnv, at);
  if (c.handoff) {
    statements.push(event('conversation.handoff_requested', c.handoff.at));
    if (c.handoff.agentAfterMs !== undefined) statements.push(insertMessage({ id: newId('msg'), role: 'agent', content: 'Hi, a person here.', at: c.handoff.at + c.handoff.agentAfterMs }));
  }
  for (const type of c.tickets ?? []) statements.push(event(type, c.at + 500));
  if (c.lead) {
    statements.push(
      env.DB.prepare(`INSERT INTO leads (id, org_id, bot_id, conversation_id, email, created_at) VALUES (?, ?, ?, ?, 'a@example.com', ?)`).bind(newId('led'), c.orgId, c.botId, cnv, c.at + 100),
    );
  }
  await env.DB.batch(statements);
  return cnv;
}

async function rollUp(orgId: string, days: number[]) {
  const ctx = jobContext(env, createExecutionContext());
  for (const day of days) expect(await buildRollupDay(ctx, orgId, day)).toEqual({ status: 'built', day });
}

let owner: Account;
let outsider: Account;
let sourceA: string;
let sourceB: string;
// Two closed UTC days before today: d1 (three days ago) and d2 (two days ago).
const d1 = todayUtc() - 3 * DAY;
const d2 = todayUtc() - 2 * DAY;

beforeAll(async () => {
  owner = await register('analytics-owner');
  outsider = await register('analytics-outsider');
  for (const title of ['Pricing page', 'Setup guide', 'Old FAQ']) {
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'text', title, text: `${title} text.` } });
    expect(res.status).toBe(202);
    if (title === 'Pricing page') sourceA = res.body.id;
    if (title === 'Setup guide') sourceB = res.body.id;
  }
  const o = owner.orgId;
  const b = owner.botId;
  await seed({
    orgId: o, botId: b, at: d1 + 9 * HOUR, channel: 'widget', country: 'DE', visitorId: 'vis_1',
    turns: [
      { question: 'How much does the pro plan cost?', model: 'openai-compatible:api.openai.com:gpt-4o-mini', tokens: [1000, 200], sourceId: sourceA, rating: 'up' },
      { question: 'This is great, thanks!', tokens: [50, 10] },
    ],
    handoff: { at: d1 + 9 * HOUR + 10_000, agentAfterMs: 60_000 },
    tickets: ['escalation.created', 'escalation.resolved'],
    lead: true,
  });
  await seed({
    orgId: o, botId: b, at: d1 + 23 * HOUR + 30 * 60_000, channel: 'api', country: 'FR', visitorId: 'vis_2',
    turns: [{ question: 'Pro plan price?', model: 'openai-compatible:api.openai.com:gpt-4o-mini', tokens: [500, 100], sourceId: sourceA, rating: 'down' }],
    handoff: { at: d1 + 23 * HOUR + 40 * 60_000, agentAfterMs: 180_000 },
    tickets: ['escalation.created'],
  });
  await seed({
    orgId: o, botId: b, at: d2 + 14 * HOUR, channel: 'widget', country: 'DE', visitorId: 'vis_1',
    turns: [
      { question: 'Where is the terrible setup guide?', answer: 'unanswered', rating: 'down' },
      { question: 'How do I install it?', model: 'openai-compatible:llm.internal:house-model', tokens: [300, 30], sourceId: sourceB },
    ],
  });
  // Today: counted live.
  await seed({ orgId: o, botId: b, at: Date.now() - 60_000, channel: 'ws', country: null, visitorId: 'vis_3', turns: [{ question: 'The setup guide is terrible, where is it?', answer: 'unanswered' }] });
  // Another org's history: never counted in the owner's.
  await seed({ orgId: outsider.orgId, botId: outsider.botId, at: d1 + 10 * HOUR, channel: 'widget', country: 'US', visitorId: 'vis_9', turns: [{ question: 'Pro plan price?' }], lead: true });
  await rollUp(o, [d1, d2]);
});

const range = `from=${isoDay(d1)}&to=${isoDay(todayUtc())}`;

describe('overview', () => {
  it('counts conversations, messages, visitors, answers, ratings, handoffs, tickets, first response, leads and token cost', async () => {
    const res = await call('GET', `/api/v1/analytics/overview?${range}&tz=UTC`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.totals).toEqual({
      conversations: 4,
      messages: 6 * 2 + 2,
      uniqueVisitors: 3,
      answered: 4,
      unanswered: 2,
      failed: 0,
      thumbsUp: 1,
      thumbsDown: 2,
      thumbsUpRate: 0.3333,
      handoffs: 2,
      ticketsOpened: 2,
      ticketsResolved: 1,
      medianFirstResponseMs: 120_000,
      leads: 1,
    });
    expect(res.body.rollups.rolledUpDays).toBe(2);
    expect(res.body.usage.byModel).toEqual([
      { provider: 'api.openai.com', model: 'gpt-4o-mini', promptTokens: 1500, completionTokens: 300, totalTokens: 1800, costUsd: 0.000405 },
      { provider: 'llm.internal', model: 'house-model', promptTokens: 300, completionTokens: 30, totalTokens: 330, costUsd: null },
      { provider: 'offline', model: 'extractive', promptTokens: 50, completionTokens: 10, totalTokens: 60, costUsd: 0 },
    ]);
    expect(res.body.usage.byProvider.find((p: any) => p.provider === 'llm.internal')).toEqual({ provider: 'llm.internal', promptTokens: 300, completionTokens: 30, totalTokens: 330, costUsd: null, unpricedTokens: 330 });
  });

  it('breaks conversations down by channel, country and sentiment with a daily series, and by hour of week', async () => {
    const { body } = await call('GET', `/api/v1/analytics/overview?${range}&tz=UTC`, { token: owner.token });
    expect(body.range.days).toEqual([isoDay(d1), isoDay(d2), isoDay(d2 + DAY), isoDay(todayUtc())]);
    const series = (values: Record<number, number>) => Array.from({ length: 4 }, (_, i) => values[i] ?? 0);
    expect(body.byChannel).toEqual([
      { key: 'widget', conversations: 2, series: series({ 0: 1, 1: 1 }) },
      { key: 'api', conversations: 1, series: series({ 0: 1 }) },
      { key: 'ws', conversations: 1, series: series({ 3: 1 }) },
    ]);
    expect(body.byCountry).toEqual([
      { key: 'DE', conversations: 2, series: series({ 0: 1, 1: 1 }) },
      { key: 'FR', conversations: 1, series: series({ 0: 1 }) },
      { key: null, conversations: 1, series: series({ 3: 1 }) },
    ]);
    expect(Object.fromEntries(body.bySentiment.map((s: any) => [s.key, s.conversations]))).toEqual({ positive: 1, neutral: 1, negative: 2 });
    expect(body.series.conversations.reduce((a: number, b: number) => a + b, 0)).toBe(4);
    const weekday = (ms: number) => (new Date(ms).getUTCDay() + 6) % 7;
    const slot = (ms: number) => body.byHourOfWeek.find((h: any) => h.weekday === weekday(ms) && h.hour === new Date(ms).getUTCHours());
    expect(slot(d1 + 9 * HOUR)).toMatchObject({ conversations: 1, messages: 5 });
    expect(slot(d1 + 23 * HOUR)).toMatchObject({ conversations: 1, messages: 3 });
    expect(body.byHourOfWeek).toHaveLength(168);
  });

  it('lists top questions with near-duplicates grouped, top unanswered questions, top cited and never cited sources, each top item with its daily series', async () => {
    const { body } = await call('GET', `/api/v1/analytics/overview?${range}&tz=UTC`, { token: owner.token });
    const guide = questionKeyOf('Where is the terrible setup guide?');
    expect(questionKeyOf('The setup guide is terrible, where is it?')).toBe(guide);
    // Days: d1 and d2 rolled up, yesterday (nothing) and today live.
    expect(body.range.days).toEqual([isoDay(d1), isoDay(d2), isoDay(d2 + DAY), isoDay(todayUtc())]);
    // Grouped by key, shown in its latest wording; asked on d2 (rolled up) and today (live).
    expect(body.topQuestions[0]).toEqual({ key: guide, question: 'The setup guide is terrible, where is it?', count: 2, unanswered: 2, series: [0, 1, 0, 1] });
    expect(Object.fromEntries(body.topQuestions.slice(1).map((q: any) => [q.question, [q.count, q.series]]))).toEqual({
      'How much does the pro plan cost?': [1, [1, 0, 0, 0]],
      'This is great, thanks!': [1, [1, 0, 0, 0]],
      'Pro plan price?': [1, [1, 0, 0, 0]],
      'How do I install it?': [1, [0, 1, 0, 0]],
    });
    expect(body.topUnanswered).toEqual([{ key: guide, question: 'The setup guide is terrible, where is it?', count: 2, series: [0, 1, 0, 1] }]);
    expect(body.topSources).toEqual([
      { sourceId: sourceA, title: 'Pricing page', citations: 2, series: [2, 0, 0, 0] },
      { sourceId: sourceB, title: 'Setup guide', citations: 1, series: [0, 1, 0, 0] },
    ]);
    expect(body.neverCitedSources).toEqual([{ sourceId: expect.any(String), title: 'Old FAQ', botId: owner.botId }]);
  });

  it('cuts days and hours of the week in the requested time zone', async () => {
    // 23:30 UTC on d1 is 00:30 (winter) or 01:30 (summer) of the next day in Berlin.
    const { body } = await call('GET', `/api/v1/analytics/overview?${range}&tz=Europe/Berlin`, { token: owner.token });
    const api = body.byChannel.find((c: any) => c.key === 'api');
    expect(api.series[body.range.days.indexOf(isoDay(d1 + DAY))]).toBe(1);
    const berlinHour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' }).format(d1 + 23 * HOUR + 30 * 60_000));
    const weekday = (new Date(d1 + DAY).getUTCDay() + 6) % 7;
    expect(body.byHourOfWeek.find((h: any) => h.weekday === weekday && h.hour === berlinHour)).toMatchObject({ conversations: 1 });
    expect(body.range.startsAt).toBe(new Date(d1 - (berlinHour === 0 ? 1 : 2) * HOUR).toISOString());
    // Same counts as in UTC: the range only moved by the offset, and nothing is near its ends.
    expect(body.totals.conversations).toBe(4);
    // The top lists' series cut the same local days: the answer of 23:30 UTC on rolled-up d1
    // cited the pricing page on Berlin's next day, and its question was asked then.
    expect(body.topSources).toEqual([
      { sourceId: sourceA, title: 'Pricing page', citations: 2, series: [1, 1, 0, 0] },
      { sourceId: sourceB, title: 'Setup guide', citations: 1, series: [0, 1, 0, 0] },
    ]);
    expect(body.topQuestions.find((q: any) => q.question === 'Pro plan price?').series).toEqual([0, 1, 0, 0]);
    expect(body.topQuestions.find((q: any) => q.question === 'How much does the pro plan cost?').series).toEqual([1, 0, 0, 0]);
    expect(body.topUnanswered[0].series).toEqual([0, 1, 0, 1]);
  });

  it("answers one bot's analytics in the same shape, and the overview filtered to that bot alike", async () => {
    const bot = await call('GET', `/api/v1/analytics/bots/${owner.botId}?${range}`, { token: owner.token });
    const filtered = await call('GET', `/api/v1/analytics/overview?${range}&botId=${owner.botId}`, { token: owner.token });
    expect(bot.status).toBe(200);
    expect(bot.body).toEqual(filtered.body);
    expect(bot.body.range.botId).toBe(owner.botId);
    const other = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'Empty bot' } });
    const empty = await call('GET', `/api/v1/analytics/bots/${other.body.id}?${range}`, { token: owner.token });
    expect(empty.body.totals.conversations).toBe(0);
  });

  it('exports each table as CSV', async () => {
    const res = await call('GET', `/api/v1/analytics/overview?${range}&tz=UTC&format=csv&table=by_channel`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (res.body as string).split('\r\n');
    expect(lines[0]).toBe('day,channel,conversations');
    expect(lines).toContain(`${isoDay(d1)},api,1`);
    const totals = await call('GET', `/api/v1/analytics/overview?${range}&format=csv&table=totals`, { token: owner.token });
    expect(totals.body).toContain('conversations,4\r\n');
    // Top lists: one row per item, its totals, then its count on each day (a column per date).
    const days = [d1, d2, d2 + DAY, todayUtc()].map(isoDay).join(',');
    const questions = await call('GET', `/api/v1/analytics/overview?${range}&format=csv&table=top_questions`, { token: owner.token });
    expect((questions.body as string).split('\r\n').slice(0, 2)).toEqual([`question,count,unanswered,${days}`, '"The setup guide is terrible, where is it?",2,2,0,1,0,1']);
    const unanswered = await call('GET', `/api/v1/analytics/overview?${range}&format=csv&table=top_unanswered`, { token: owner.token });
    expect(unanswered.body).toBe(`question,count,${days}\r\n"The setup guide is terrible, where is it?",2,0,1,0,1\r\n`);
    const sources = await call('GET', `/api/v1/analytics/overview?${range}&format=csv&table=top_sources`, { token: owner.token });
    expect(sources.body).toBe(`sourceId,title,citations,${days}\r\n${sourceA},Pricing page,2,2,0,0,0\r\n${sourceB},Setup guide,1,0,1,0,0\r\n`);
    const usage = await call('GET', `/api/v1/analytics/bots/${owner.botId}?${range}&format=csv&table=usage`, { token: owner.token });
    expect(usage.body).toContain('api.openai.com,gpt-4o-mini,1500,300,1800,0.000405\r\n');
  });

  it('refuses bad dates, time zones, ranges and tables with 400, and lets a viewer read', async () => {
    const bad = async (query: string, code = 'validation_failed') => expectProblem(await call('GET', `/api/v1/analytics/overview?${query}`, { token: owner.token }), 400, code);
    await bad('from=2026-02-30');
    await bad('from=yesterday');
    await bad('tz=Mars/Olympus');
    await bad('from=2026-03-02&to=2026-03-01', 'invalid_range');
    await bad('from=2024-01-01&to=2026-01-01', 'range_too_long');
    await bad('format=csv');
    await bad('format=csv&table=secrets');
    await bad('format=xml');
    const viewer = await joinAs(owner, owner.orgId, 'viewer');
    expect((await call('GET', `/api/v1/analytics/overview?${range}`, { token: viewer.token, orgId: owner.orgId })).status).toBe(200);
  });

  it("answers 404 for another org's bot on every analytics route, and counts only the caller's org", async () => {
    expectProblem(await call('GET', `/api/v1/analytics/bots/${owner.botId}`, { token: outsider.token }), 404, 'bot_not_found');
    expectProblem(await call('GET', `/api/v1/analytics/overview?botId=${owner.botId}`, { token: outsider.token }), 404, 'bot_not_found');
    expectProblem(await call('GET', `/api/v1/analytics/bots/${owner.botId}?format=csv&table=totals`, { token: outsider.token }), 404, 'bot_not_found');
    const theirs = await call('GET', `/api/v1/analytics/overview?${range}`, { token: outsider.token });
    expect(theirs.body.totals).toMatchObject({ conversations: 1, leads: 1, handoffs: 0 });
    // The same question in both orgs: each org's top list and its series count its own asking only.
    expect(theirs.body.topQuestions).toEqual([{ key: questionKeyOf('Pro plan price?'), question: 'Pro plan price?', count: 1, unanswered: 0, series: [1, 0, 0, 0] }]);
    const ours = await call('GET', `/api/v1/analytics/overview?${range}`, { token: owner.token });
    expect(ours.body.topQuestions.find((q: any) => q.question === 'Pro plan price?')).toMatchObject({ count: 1, series: [1, 0, 0, 0] });
  });
});

describe('rollups', () => {
  // These tests read the real clock and compare against the current UTC hour (and day), so none
  // may start in the last seconds of an hour: it waits for the next one instead (each takes ~2 s).
  beforeEach(async () => {
    const left = HOUR - (Date.now() % HOUR);
    if (left < 15_000) await new Promise((r) => setTimeout(r, left + 250));
  }, 30_000);

  it("the cron enqueues an analytics.rollup job per recent closed day and for today's closed hours, and the queue builds them", async () => {
    const fresh = await register('analytics-cron');
    await seed({ orgId: fresh.orgId, botId: fresh.botId, at: todayUtc() - DAY + HOUR, turns: [{ question: 'Hello there?' }] });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '*/15 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    // Today has closed hours to build unless this runs in the first hour of the UTC day.
    const today = todayUtc();
    const days = hourUtc() > today ? 4 : 3;
    const built = await vi.waitUntil(
      async () => {
        const { results } = await env.DB.prepare('SELECT day, built_to AS builtTo FROM analytics_rollup_days WHERE org_id = ? ORDER BY day').bind(fresh.orgId).all<{ day: number; builtTo: number }>();
        return results.length === days ? results : null;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(built.slice(0, 3)).toEqual([1, 2, 3].reverse().map((i) => ({ day: today - i * DAY, builtTo: today - i * DAY + DAY })));
    if (days === 4) expect(built[3]).toEqual({ day: today, builtTo: hourUtc() });
    const rows = await env.DB.prepare("SELECT SUM(value) AS n FROM analytics_hourly WHERE org_id = ? AND metric = 'messages'").bind(fresh.orgId).first('n');
    expect(rows).toBe(2);
  });

  it("rolls up only the current day's closed hours (the hour in progress stays live), never a later day, and re-running a day changes nothing", async () => {
    const ctx = jobContext(env, createExecutionContext());
    const before = await call('GET', `/api/v1/analytics/overview?${range}&tz=UTC`, { token: owner.token });
    expect(await buildRollupDay(ctx, owner.orgId, todayUtc() + DAY)).toEqual({ status: 'open_day' });
    expect(await buildRollupDay(ctx, owner.orgId, todayUtc() - DAY + 5)).toEqual({ status: 'invalid_day' });
    const today = await buildRollupDay(ctx, owner.orgId, todayUtc());
    expect(today).toEqual(hourUtc() > todayUtc() ? { status: 'built_hours', day: todayUtc(), builtTo: hourUtc() } : { status: 'open_day' });
    // Everything up to now still counts: the conversation of a minute ago, rolled up or live.
    const after = await call('GET', `/api/v1/analytics/overview?${range}&tz=UTC`, { token: owner.token });
    expect({ ...after.body, rollups: null }).toEqual({ ...before.body, rollups: null });
    // Today's share of the rolled-up days is its closed hours (the cron may have built other days too).
    if (today.status === 'built_hours') expect(Math.round((after.body.rollups.rolledUpDays % 1) * DAY)).toBe(hourUtc() - todayUtc());
    const snapshot = async () => ({
      hourly: (await env.DB.prepare('SELECT * FROM analytics_hourly WHERE org_id = ? ORDER BY hour, bot_id, metric, dim').bind(owner.orgId).all()).results,
      days: (await env.DB.prepare('SELECT * FROM analytics_days WHERE org_id = ? ORDER BY day, bot_id, metric, dim').bind(owner.orgId).all()).results,
      daily: (await env.DB.prepare('SELECT * FROM analytics_daily WHERE org_id = ? ORDER BY day, bot_id, kind, key').bind(owner.orgId).all()).results,
      sketches: (await env.DB.prepare('SELECT * FROM analytics_visitor_sketches WHERE org_id = ? ORDER BY day, bot_id').bind(owner.orgId).all()).results,
      weekly: (await env.DB.prepare('SELECT * FROM analytics_weekly WHERE org_id = ? ORDER BY week, bot_id, kind, key').bind(owner.orgId).all()).results,
    });
    const first = await snapshot();
    expect(first.hourly.length).toBeGreaterThan(10);
    expect(first.sketches.map((r) => r.day)).toEqual(expect.arrayContaining([d1, d2]));
    expect(first.weekly.length).toBeGreaterThan(0);
    await rollUp(owner.orgId, [d1, d2, d1]);
    if (today.status === 'built_hours') expect(await buildRollupDay(ctx, owner.orgId, todayUtc())).toEqual(today);
    expect(await snapshot()).toEqual(first);
  });

  it('merges a late event into its past day on the next rebuild', async () => {
    const before = await call('GET', `/api/v1/analytics/overview?${range}`, { token: owner.token });
    await seed({ orgId: owner.orgId, botId: owner.botId, at: d2 + 3 * HOUR, channel: 'openai', turns: [{ question: 'Late question?' }] });
    const stale = await call('GET', `/api/v1/analytics/overview?${range}`, { token: owner.token });
    expect(stale.body.totals.conversations).toBe(before.body.totals.conversations);
    await rollUp(owner.orgId, [d2]);
    const after = await call('GET', `/api/v1/analytics/overview?${range}`, { token: owner.token });
    expect(after.body.totals.conversations).toBe(before.body.totals.conversations + 1);
  });

  it('rollups equal a direct count over random histories, in any time zone', async () => {
    const SPAN_DAYS = 15;
    const org = await register('analytics-property');
    const ctx = jobContext(env, createExecutionContext());
    const today = todayUtc();
    const turn = fc.record({
      question: fc.constantFrom('How much is it?', 'Price of the plan?', 'I hate waiting', 'Thanks, great help', 'Where are the docs?'),
      answer: fc.constantFrom('answered', 'unanswered', 'failed') as fc.Arbitrary<'answered' | 'unanswered' | 'failed'>,
      tokens: fc.option(fc.tuple(fc.nat(500), fc.nat(100)), { nil: undefined }),
      rating: fc.option(fc.constantFrom('up', 'down') as fc.Arbitrary<'up' | 'down'>, { nil: undefined }),
      sourceId: fc.option(fc.constantFrom('src_prop_a', 'src_prop_b'), { nil: undefined }),
    });
    const conversation = fc.record({
      // Up to now: closed days (14 of them in the range hold a whole 7-day block), today's closed
      // hours and the hour in progress.
      offsetMs: fc.integer({ min: 0, max: SPAN_DAYS * DAY + (Date.now() - todayUtc()) - 1 }),
      channel: fc.constantFrom('api', 'widget', 'ws'),
      country: fc.constantFrom('DE', 'US', null),
      visitor: fc.constantFrom('vis_a', 'vis_b', 'vis_c'),
      turns: fc.array(turn, { maxLength: 3 }),
      handoffAfterMs: fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: undefined }),
      lead: fc.boolean(),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(conversation, { maxLength: 6 }), fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'), async (history, tz) => {
        const botId = `bot_property_${run++}`;
        const start = today - SPAN_DAYS * DAY;
        for (const h of history) {
          const at = start + h.offsetMs;
          await seed({
            orgId: org.orgId, botId, at, channel: h.channel, country: h.country, visitorId: h.visitor, turns: h.turns, lead: h.lead,
            handoff: h.handoffAfterMs === undefined ? undefined : { at: at + 100, agentAfterMs: h.handoffAfterMs },
          });
        }
        for (let day = start; day <= today; day += DAY) await buildRollupDay(ctx, org.orgId, day);
        const range = localRange(tz, localDate(tz, start + DAY), localDate(tz, Date.now()));
        const rolled = await overview(ctx, { orgId: org.orgId, botId, range });
        const live = await overview(ctx, { orgId: org.orgId, botId, range, mode: 'live' });
        expect(rolled.rollups.rolledUpDays).toBeGreaterThan(0);
        expect({ ...rolled, rollups: null }).toEqual({ ...live, rollups: null });
        // And both equal a count straight from the generated history, each fact on its own row's
        // time as the analytics count it (seed: turn i at +2i s, its answer 1 s later and the rating
        // at +1.5 s; the handoff event and the lead at +100 ms, the team's reply after the handoff).
        // A conversation just before the range can have a reply inside it.
        const within = (at: number) => at >= range.start && at < range.end;
        const inRange = history.filter((h) => within(start + h.offsetMs));
        const turns = history.flatMap((h) => h.turns.map((t, i) => ({ ...t, asked: start + h.offsetMs + i * 2000 })));
        const answers = turns.filter((t) => within(t.asked + 1000));
        const handoffs = history.filter((h) => h.handoffAfterMs !== undefined);
        expect(rolled.totals).toMatchObject({
          conversations: inRange.length,
          messages: turns.filter((t) => within(t.asked)).length + answers.length + handoffs.filter((h) => within(start + h.offsetMs + 100 + h.handoffAfterMs!)).length,
          answered: answers.filter((t) => t.answer === 'answered').length,
          unanswered: answers.filter((t) => t.answer === 'unanswered').length,
          failed: answers.filter((t) => t.answer === 'failed').length,
          thumbsUp: turns.filter((t) => t.rating === 'up' && within(t.asked + 1500)).length,
          handoffs: handoffs.filter((h) => within(start + h.offsetMs + 100)).length,
          leads: history.filter((h) => h.lead && within(start + h.offsetMs + 100)).length,
          uniqueVisitors: new Set(inRange.map((h) => h.visitor)).size,
        });
        // The top lists' daily series, against each message's own local day: a question on its
        // user message's, a citation on its answer's (seed: the turn at +2 s each, the answer 1 s later).
        const perDay = new Map<string, number[]>();
        const count = (list: string, key: string, at: number) => {
          const i = range.days.indexOf(localDate(tz, at));
          if (at < range.start || at >= range.end || i < 0) return;
          const s = perDay.get(`${list}:${key}`) ?? new Array<number>(range.days.length).fill(0);
          s[i]! += 1;
          perDay.set(`${list}:${key}`, s);
        };
        for (const h of history) {
          h.turns.forEach((t, i) => {
            const asked = start + h.offsetMs + i * 2000;
            count('q', questionKeyOf(t.question), asked);
            if (t.answer === 'unanswered') count('u', questionKeyOf(t.question), asked);
            if (t.sourceId) count('c', t.sourceId, asked + 1000);
          });
        }
        const expected = (list: string) => [...perDay].filter(([k]) => k.startsWith(`${list}:`)).map(([k, s]) => [k.slice(2), s]).sort();
        expect(rolled.topQuestions.map((q) => [q.key, q.series]).sort()).toEqual(expected('q'));
        expect(rolled.topUnanswered.map((q) => [q.key, q.series]).sort()).toEqual(expected('u'));
        expect(rolled.topSources.map((c) => [c.sourceId, c.series]).sort()).toEqual(expected('c'));
        for (const q of rolled.topQuestions) expect(q.series.reduce((a, b) => a + b, 0)).toBe(q.count);
      }),
      {
        numRuns: 12,
        // Found by a random run: a conversation at 23:52 Berlin time whose team reply lands at
        // 00:00:00.000 of the next day, the range's first instant (in winter; in summer it is inside).
        examples: [[[{ offsetMs: 82_340_666, channel: 'api', country: 'DE', visitor: 'vis_a', turns: [], handoffAfterMs: 459_234, lead: false }], 'Europe/Berlin']],
      },
    );
  });

  it('estimates unique visitors of a large range from the day sketches and the live ids (within 5%), and counts small ranges, one bot and live mode exactly', async () => {
    const org = await register('analytics-visitors');
    const ctx = jobContext(env, createExecutionContext());
    const first = todayUtc() - 4 * DAY;
    const perDay = 4000;
    const conversations = 3 * perDay;
    expect(conversations).toBeGreaterThan(ANALYTICS.exactVisitorsUpTo);
    // 12,000 conversations over three closed days by 9,000 visitors; then 50 new visitors today.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?4)
       INSERT INTO conversations (id, org_id, bot_id, channel, visitor_id, title, status, message_count, created_at, updated_at)
       SELECT printf('cnv_vis_%08d', i), ?1, ?2, 'widget', 'vis_' || (i % 9000), '', 'open', 0, ?3 + (i / ?5) * ?6 + i, ?3 + (i / ?5) * ?6 + i FROM n`,
    )
      .bind(org.orgId, org.botId, first, conversations, perDay, DAY)
      .run();
    const recent = Date.now() - 1000;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < 50)
       INSERT INTO conversations (id, org_id, bot_id, channel, visitor_id, title, status, message_count, created_at, updated_at)
       SELECT printf('cnv_new_%08d', i), ?1, ?2, 'widget', 'vis_new_' || i, '', 'open', 0, ?3, ?3 FROM n`,
    )
      .bind(org.orgId, org.botId, recent)
      .run();
    // And one conversation of another bot, whose own analytics stay exact.
    await seed({ orgId: org.orgId, botId: 'bot_visitors_small', at: first + HOUR, visitorId: 'vis_small' });
    await rollUp(org.orgId, [first, first + DAY, first + 2 * DAY]);

    const wide = `from=${isoDay(first)}&to=${isoDay(todayUtc())}&tz=UTC`;
    const estimated = await call('GET', `/api/v1/analytics/overview?${wide}`, { token: org.token });
    expect(estimated.status).toBe(200);
    expect(estimated.body.rollups.uniqueVisitors).toBe('estimated');
    const exact = 9000 + 50 + 1;
    expect(Math.abs(estimated.body.totals.uniqueVisitors - exact)).toBeLessThanOrEqual(exact * 0.05);
    // Merging day sketches with the live ids is exactly the sketch of the union.
    const union = emptySketch();
    for (const id of [...Array.from({ length: 9000 }, (_, i) => `vis_${i}`), ...Array.from({ length: 50 }, (_, i) => `vis_new_${i}`), 'vis_small']) addToSketch(union, id);
    expect(estimated.body.totals.uniqueVisitors).toBe(estimateSketch(union));

    const range = localRange('UTC', isoDay(first), isoDay(todayUtc()));
    const live = await overview(ctx, { orgId: org.orgId, botId: null, range, mode: 'live' });
    expect(live.totals.uniqueVisitors).toBe(exact);
    expect(live.rollups.uniqueVisitors).toBe('exact');
    const oneBot = await overview(ctx, { orgId: org.orgId, botId: 'bot_visitors_small', range });
    expect(oneBot.totals.uniqueVisitors).toBe(1);
    expect(oneBot.rollups.uniqueVisitors).toBe('exact');
    // A day built before sketches existed (built_to 0) has its visitors read from its conversations.
    await env.DB.batch([
      env.DB.prepare('UPDATE analytics_rollup_days SET built_to = 0 WHERE org_id = ? AND day = ?').bind(org.orgId, first),
      env.DB.prepare('DELETE FROM analytics_visitor_sketches WHERE org_id = ? AND day = ?').bind(org.orgId, first),
    ]);
    const legacy = await call('GET', `/api/v1/analytics/overview?${wide}`, { token: org.token });
    expect(legacy.body.totals.uniqueVisitors).toBe(estimateSketch(union));
    expect(legacy.body.rollups.rolledUpDays).toBe(estimated.body.rollups.rolledUpDays);
    const oneDay = await call('GET', `/api/v1/analytics/overview?from=${isoDay(first + DAY)}&to=${isoDay(first + DAY)}&tz=UTC`, { token: org.token });
    expect(oneDay.body.rollups).toMatchObject({ rolledUpDays: 1, uniqueVisitors: 'exact' });
    expect(oneDay.body.totals.uniqueVisitors).toBe(perDay);
  });
});
