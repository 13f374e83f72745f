/**
 * Analytics overview at scale: an org with 1,000,000 messages (200,000 conversations of five
 * messages) over 90 days, seeded in a few INSERT … SELECT statements over a recursive CTE (no
 * million binds), rollups built for the 89 closed days, then the overview's p95 over HTTP
 * (GET /api/v1/analytics/overview, the real route: auth, org, validation, one D1 batch) next to
 * the same overview computed live from the raw tables (no rollups), and a bare route.
 * Target: overview p95 < 150 ms locally.
 *
 * The bench database drops the messages full-text trigger before seeding: indexing a million
 * messages for conversation search is not what this measures, and would take minutes.
 *
 * Timestamps are CAST to integers: D1 binds JavaScript numbers as REAL, so `i * span / n` is a
 * real division and gave every message a fractional millisecond, which production never writes
 * (Date.now()) and which put each message in an hourly bucket of its own (a million hourly rows
 * instead of ~40,000): the first runs of this bench measured that, not the overview.
 *
 * The top lists' daily series are checked the same way: rolled up = live, in UTC and in Berlin.
 *
 * Then a profile: each statement of the overview's batch run on its own and timed inside the
 * Worker (GET /__bench/analytics/profile), with and without rollups.
 */
import { cpus, loadavg } from 'node:os';
import { startBenchWorker } from './lib/worker.mjs';

const MESSAGES = Number(process.env.ANALYTICS_BENCH_MESSAGES ?? 1_000_000);
const DAYS = 90;
const PER_CONVERSATION = 5;
const CONVERSATIONS = MESSAGES / PER_CONVERSATION;
const SAMPLES = Number(process.env.ANALYTICS_BENCH_SAMPLES ?? 60);
const LIVE_SAMPLES = 5;
const BERLIN_SAMPLES = 20;
const TARGET_P95_MS = 150;
const DAY = 86_400_000;
const CHUNK = 100_000;
/** 3 standard errors of the HyperLogLog estimate of unique visitors (src/features/analytics/hll.ts). */
const VISITOR_TOLERANCE = 0.05;

const worker = await startBenchWorker();
let exitCode = 0;
try {
  const cpu = cpus();
  console.log(`machine: ${cpu.length} cores, ${cpu[0]?.model ?? 'unknown CPU'}, load average ${loadavg()[0].toFixed(2)} at start`);
  console.log(`target: GET /api/v1/analytics/overview p95 < ${TARGET_P95_MS} ms for ${MESSAGES.toLocaleString('en')} messages over ${DAYS} days`);
  const account = await call('POST', '/api/v1/auth/register', { email: `bench-${Date.now()}@example.com`, password: 'a-long-enough-password', name: 'bench' });
  const token = account.accessToken;
  const orgId = account.organization.id;
  const botId = account.bot.id;

  const today = Math.floor(Date.now() / DAY) * DAY;
  const start = today - (DAYS - 1) * DAY;
  const span = Date.now() - start;
  const db = worker.db;
  await db.exec('DROP TRIGGER IF EXISTS messages_fts_after_insert');
  const seedStarted = performance.now();
  for (let from = 0; from < CONVERSATIONS; from += CHUNK) {
    const to = Math.min(CONVERSATIONS, from + CHUNK);
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
         INSERT INTO conversations (id, org_id, bot_id, channel, visitor_id, title, status, country, sentiment, message_count, created_at, updated_at)
         SELECT printf('cnv_%020d', i), ?3, ?4, CASE i % 5 WHEN 0 THEN 'api' WHEN 1 THEN 'widget' WHEN 2 THEN 'ws' WHEN 3 THEN 'widget' ELSE 'openai' END,
                'vis_' || (i % 50000), '', 'open', CASE i % 7 WHEN 0 THEN 'US' WHEN 1 THEN 'DE' WHEN 2 THEN 'FR' WHEN 3 THEN 'GB' WHEN 4 THEN 'IN' WHEN 5 THEN 'BR' ELSE NULL END,
                (i % 3) - 1, ${PER_CONVERSATION}, CAST(?5 + i * ?6 / ?2 AS INTEGER), CAST(?5 + i * ?6 / ?2 AS INTEGER)
           FROM n`,
      )
      .bind(from, to, orgId, botId, start, span)
      .run();
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
         INSERT INTO messages (id, org_id, bot_id, conversation_id, role, content, citations, reply_to, model, usage, unanswered, question_key, created_at)
         SELECT printf('msg_%020d', m), ?3, ?4, printf('cnv_%020d', c),
                CASE WHEN k % 2 = 0 THEN 'user' ELSE 'assistant' END,
                CASE WHEN k % 2 = 0 THEN 'How do I configure feature ' || ((m * 7) % 300) || '?' ELSE 'An answer.' END,
                CASE WHEN k % 2 = 1 THEN '[{"n":1,"sourceId":"src_' || (m % 40) || '","documentId":"d","chunkId":"c","title":"t","url":null,"snippet":"","score":1}]' ELSE '[]' END,
                CASE WHEN k % 2 = 1 THEN printf('msg_%020d', m - 1) END,
                CASE WHEN k % 2 = 1 THEN CASE m % 3 WHEN 0 THEN 'offline:extractive' WHEN 1 THEN 'openai-compatible:api.openai.com:gpt-4o-mini' ELSE 'openai-compatible:llm.local:house' END END,
                CASE WHEN k % 2 = 1 THEN '{"promptTokens":800,"completionTokens":120,"totalTokens":920}' END,
                CASE WHEN k % 2 = 1 AND m % 11 = 0 THEN 1 ELSE 0 END,
                CASE WHEN k % 2 = 0 THEN 'configur featur ' || ((m * 7) % 300) END,
                CAST(?5 + c * ?6 / ?7 AS INTEGER) + k * 1000
           FROM (SELECT i AS m, i / ${PER_CONVERSATION} AS c, i % ${PER_CONVERSATION} AS k FROM n)`,
      )
      .bind(from * PER_CONVERSATION, to * PER_CONVERSATION, orgId, botId, start, span, CONVERSATIONS)
      .run();
  }
  const seeded = await db.prepare('SELECT COUNT(*) AS n FROM messages WHERE org_id = ?').bind(orgId).first('n');
  console.log(`seeded ${seeded} messages in ${CONVERSATIONS} conversations over ${DAYS} days in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  // The closed days, then today up to its last closed hour (what the cron keeps built).
  const rollup = await call('POST', '/__bench/analytics/rollup', { orgId, from: start, to: today });
  console.log(`rollups: ${rollup.days} closed days built in ${(rollup.ms / 1000).toFixed(1)} s (${(rollup.ms / rollup.days).toFixed(0)} ms per day)`);
  const hours = await call('POST', '/__bench/analytics/rollup', { orgId, from: today, to: today + DAY });
  console.log(`rollups: today's ${hours.hours} closed hours built in ${hours.ms.toFixed(0)} ms`);

  const from = new Date(start).toISOString().slice(0, 10);
  const to = new Date(today).toISOString().slice(0, 10);
  const query = `from=${from}&to=${to}&tz=UTC`;
  await call('GET', `/api/v1/analytics/overview?${query}`, undefined, token); // warm
  for (const mode of ['rollups', 'live']) {
    const profile = await call('GET', `/__bench/analytics/profile?orgId=${orgId}&${query}&mode=${mode}`);
    console.log(`profile (${mode}): ${profile.ms.toFixed(1)} ms, each statement on its own:`);
    for (const t of profile.timings) console.log(`  ${t.ms.toFixed(1).padStart(8)} ms ${String(t.rows).padStart(6)} rows  ${t.statement}`);
  }
  {
    const profile = await call('GET', `/__bench/analytics/profile?orgId=${orgId}&from=${from}&to=${to}&tz=Europe/Berlin&mode=rollups`);
    console.log(`profile (rollups, Europe/Berlin): ${profile.ms.toFixed(1)} ms, each statement on its own:`);
    for (const t of profile.timings) console.log(`  ${t.ms.toFixed(1).padStart(8)} ms ${String(t.rows).padStart(6)} rows  ${t.statement}`);
  }
  const withRollups = await time(SAMPLES, () => call('GET', `/api/v1/analytics/overview?${query}`, undefined, token));
  const check = await call('GET', `/api/v1/analytics/overview?${query}`, undefined, token);
  const live = await time(LIVE_SAMPLES, () => call('GET', `/__bench/analytics/overview?orgId=${orgId}&${query}&mode=live`));
  const liveCheck = await call('GET', `/__bench/analytics/overview?orgId=${orgId}&${query}&mode=live`);
  const bare = await time(SAMPLES, () => call('GET', '/__bench/bare'));
  // Another zone cuts local days inside UTC days: hourly rows for the totals, edge days live. Not the target, shown for scale.
  const berlinQuery = `from=${from}&to=${to}&tz=Europe/Berlin`;
  await call('GET', `/api/v1/analytics/overview?${berlinQuery}`, undefined, token);
  const berlin = await time(BERLIN_SAMPLES, () => call('GET', `/api/v1/analytics/overview?${berlinQuery}`, undefined, token));
  // Every total is exact both ways but unique visitors, which a range this large estimates.
  const { uniqueVisitors: estimated, ...rolledTotals } = check.totals;
  const { uniqueVisitors: counted, ...liveTotals } = liveCheck.totals;
  if (JSON.stringify(liveTotals) !== JSON.stringify(rolledTotals)) {
    console.error('MISMATCH: rollup and live totals differ', check.totals, liveCheck.totals);
    exitCode = 1;
  }
  // The top lists with their daily series, rolled up and live, in UTC and in Berlin (whose series
  // correct the rolled-up days' hours that fall on the next local day from the raw rows).
  const berlinCheck = await call('GET', `/api/v1/analytics/overview?${berlinQuery}`, undefined, token);
  const berlinLive = await call('GET', `/__bench/analytics/overview?orgId=${orgId}&${berlinQuery}&mode=live`);
  for (const [zone, rolled, counted] of [['UTC', check, liveCheck], ['Europe/Berlin', berlinCheck, berlinLive]]) {
    const lists = (o) => JSON.stringify([o.topQuestions, o.topUnanswered, o.topSources]);
    if (lists(rolled) !== lists(counted)) {
      console.error(`MISMATCH: rollup and live top lists (with their daily series) differ in ${zone}`);
      exitCode = 1;
    }
    const q = rolled.topQuestions[0];
    console.log(`top lists in ${zone}: rollups = live (${rolled.topQuestions.length} questions, ${rolled.topUnanswered.length} unanswered, ${rolled.topSources.length} sources, each with ${q?.series.length} days); top question ${q?.count} times, series sum ${q?.series.reduce((a, b) => a + b, 0)}`);
  }
  const visitorError = Math.abs(estimated - counted) / counted;
  console.log(`unique visitors: ${estimated} (${check.rollups.uniqueVisitors}) vs ${counted} counted live: ${(visitorError * 100).toFixed(2)}% off (tolerance ${VISITOR_TOLERANCE * 100}%)`);
  if (visitorError > VISITOR_TOLERANCE) exitCode = 1;
  console.log(`overview totals: ${check.totals.conversations} conversations, ${check.totals.messages} messages (${check.rollups.rolledUpDays.toFixed(2)} days from rollups, the hour in progress live)`);
  console.log(`bare route                        p50 ${bare.p50.toFixed(1)} ms  p95 ${bare.p95.toFixed(1)} ms  (${SAMPLES} requests)`);
  console.log(`overview with rollups (API route) p50 ${withRollups.p50.toFixed(1)} ms  p95 ${withRollups.p95.toFixed(1)} ms  (${SAMPLES} requests)`);
  console.log(`overview in Europe/Berlin          p50 ${berlin.p50.toFixed(1)} ms  p95 ${berlin.p95.toFixed(1)} ms  (${BERLIN_SAMPLES} requests)`);
  console.log(`overview without rollups (live)   p50 ${live.p50.toFixed(1)} ms  p95 ${live.p95.toFixed(1)} ms  (${LIVE_SAMPLES} requests)`);
  console.log(`ratio live / rollups (p95): ${(live.p95 / withRollups.p95).toFixed(1)}x; target p95 < ${TARGET_P95_MS} ms: ${withRollups.p95 < TARGET_P95_MS ? 'met' : 'MISSED'}`);
  console.log(`load average ${loadavg()[0].toFixed(2)} at the end`);
  if (withRollups.p95 >= TARGET_P95_MS) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await worker.dispose();
}
process.exit(exitCode);

async function call(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(new URL(path, worker.url), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function time(n, fn) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)];
  return { p50: at(0.5), p95: at(0.95) };
}
