/**
 * Chat turn overhead and live-room concurrency.
 *
 * 1. Overhead: 200 sequential streamed turns (`POST /api/v1/bots/{botId}/chat`, `stream: true`,
 *    a new conversation each) on a bot with a small knowledge source, answered by a
 *    zero-latency OpenAI-compatible model (bench/lib/zero-latency-model.mjs, reached through
 *    CHAT_BASE_URL and the egress guard), next to 200 sequential requests to the bare route
 *    (one D1 read), interleaved in rounds so background load hits both alike. Time to the first
 *    `token` event and to `done`, p50 and p95, and their ratios to the bare route.
 *    Target: p50 ≤ 1.5× the bare route's, for the first token and for the whole turn.
 *    The offline extractive answerer's turn and the bot's search route (the retrieval a turn
 *    starts with) are measured alongside, for reference (no target).
 * 2. WebSocket concurrency: N conversations with one socket each (N = 25, 50, 100, …) all send
 *    one message at once and wait for the stored answer; N doubles until a turn fails or the
 *    p95 passes 2 s. Reports the largest N sustained. Then, for scale, how many open sockets the
 *    process holds when they are idle: N keeps doubling (up to CHAT_BENCH_MAX_IDLE_SOCKETS) with
 *    every socket answering a ping, until one fails or the pong p95 passes 2 s.
 *
 * Exit code 1 when the overhead target is missed or no N is sustained.
 */
import { getJson, postJson, registerAndCreateApiKey } from './lib/api-client.mjs';
import { streamTurn } from './lib/chat-client.mjs';
import { openRoom } from './lib/live-client.mjs';
import { percentile } from './lib/load.mjs';
import { printTable } from './lib/table.mjs';
import { startBenchWorker } from './lib/worker.mjs';
import { createZeroLatencyModel } from './lib/zero-latency-model.mjs';

const TURNS = Number(process.env.CHAT_BENCH_TURNS ?? 200);
const ROUNDS = 4;
const WARMUP = 20;
const TARGET_RATIO = 1.5;
const WS_START = 25;
const WS_MAX = Number(process.env.CHAT_BENCH_MAX_SOCKETS ?? 3_200);
const WS_MAX_IDLE = Number(process.env.CHAT_BENCH_MAX_IDLE_SOCKETS ?? 1_600);
const WS_P95_LIMIT_MS = 2_000;
const WS_ANSWER_TIMEOUT_MS = 30_000;
/** Conversations are created over HTTP this many at a time (the Worker, not the client, should be the bottleneck). */
const CREATE_CONCURRENCY = 8;
/** Idle sockets are opened this many at a time. */
const IDLE_OPEN_CONCURRENCY = 25;
/** Where the Worker finds the model: the egress guard allows this host (EGRESS_ALLOW_HOSTS) and WEB_FETCHER answers it. */
const MODEL_BASE_URL = 'http://localhost:11434/v1';

const KNOWLEDGE = `# Refunds and billing

Refunds are possible within 14 days of payment for annual plans. Monthly plans are not refunded
for partial months. Duplicate charges are always refunded and reach your card within 5 to 10
business days.

## Invoices

Invoices are issued on the first day of each billing period and can be downloaded as PDF from
the billing settings. Cards from Visa, Mastercard and American Express are accepted.

## Cancelling

An owner can cancel the subscription at any time; the workspace stays usable until the end of the
paid period and then becomes read-only.
`;
/** Questions the knowledge covers, so every turn reaches the model instead of abstaining. */
const QUESTIONS = [
  'Can I get a refund on an annual plan?',
  'How long do refunds for duplicate charges take?',
  'When are invoices issued?',
  'Which cards are accepted for payment?',
  'What happens when the owner cancels the subscription?',
];

const stats = (values) => {
  const sorted = values.toSorted((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
};
const times = (x) => `${x.toFixed(2)}×`;

async function waitReady(url, auth, sourceId) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const source = await getJson(url, `/api/v1/sources/${sourceId}`, auth);
    if (source.status === 'ready') return;
    if (source.status === 'failed') throw new Error(`knowledge source failed: ${source.error}`);
    if (Date.now() > deadline) throw new Error('knowledge source not ready after 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function botWithKnowledge(url, auth, body) {
  const bot = await postJson(url, '/api/v1/bots', body, auth);
  const source = await postJson(url, `/api/v1/bots/${bot.id}/sources`, { type: 'text', title: 'billing.md', text: KNOWLEDGE }, auth);
  await waitReady(url, auth, source.id);
  return bot;
}

async function timeBare(url) {
  const started = performance.now();
  const res = await fetch(new URL('/__bench/bare', url));
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`bare route answered ${res.status}`);
  return performance.now() - started;
}

/** Runs `count` async jobs with at most `limit` in flight; resolves with their results in order. */
async function pool(count, limit, job) {
  const results = new Array(count);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  });
  await Promise.all(workers);
  return results;
}

async function timeSearch(url, auth, botId, query) {
  const started = performance.now();
  await postJson(url, `/api/v1/bots/${botId}/search`, { query }, auth);
  return performance.now() - started;
}

async function measureOverhead(worker, auth, bots) {
  // Fail early and clearly when a bot does not answer as intended (abstaining, or the wrong model).
  for (const [name, bot, expectModel] of [['model', bots.model, /bench-zero/], ['offline', bots.offline, /.*/]]) {
    const turn = await streamTurn(worker.url, auth, bot.id, QUESTIONS[0]);
    if (turn.message.unanswered) throw new Error(`the ${name} bot abstained on a covered question: the bench would measure the fallback, not a turn`);
    if (!expectModel.test(turn.message.model ?? '')) throw new Error(`the ${name} bot answered with model ${turn.message.model}, not the zero-latency model`);
  }
  for (let i = 0; i < WARMUP; i++) {
    await timeBare(worker.url);
    await timeSearch(worker.url, auth, bots.model.id, QUESTIONS[i % QUESTIONS.length]);
    await streamTurn(worker.url, auth, bots.model.id, QUESTIONS[i % QUESTIONS.length]);
    await streamTurn(worker.url, auth, bots.offline.id, QUESTIONS[i % QUESTIONS.length]);
  }
  const bare = [];
  const search = [];
  const model = { first: [], total: [] };
  const offline = { first: [], total: [] };
  const perRound = Math.ceil(TURNS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < perRound; i++) bare.push(await timeBare(worker.url));
    for (let i = 0; i < perRound; i++) search.push(await timeSearch(worker.url, auth, bots.model.id, QUESTIONS[i % QUESTIONS.length]));
    for (let i = 0; i < perRound; i++) {
      const turn = await streamTurn(worker.url, auth, bots.model.id, QUESTIONS[i % QUESTIONS.length]);
      model.first.push(turn.firstTokenMs);
      model.total.push(turn.totalMs);
    }
    for (let i = 0; i < perRound; i++) {
      const turn = await streamTurn(worker.url, auth, bots.offline.id, QUESTIONS[i % QUESTIONS.length]);
      offline.first.push(turn.firstTokenMs);
      offline.total.push(turn.totalMs);
    }
  }
  return { bare: stats(bare), search: stats(search), modelFirst: stats(model.first), modelTotal: stats(model.total), offlineFirst: stats(offline.first), offlineTotal: stats(offline.total) };
}

/**
 * The first `n` conversations of a growing pool; each starts with one turn over HTTP, since a
 * room joins an existing conversation. Later steps reuse earlier conversations.
 */
const conversationPool = [];
async function conversations(worker, apiKey, botId, n) {
  const auth = { authorization: `Bearer ${apiKey}` };
  const missing = n - conversationPool.length;
  if (missing > 0) {
    const created = await pool(missing, CREATE_CONCURRENCY, async (i) => {
      const reply = await postJson(worker.url, `/api/v1/bots/${botId}/chat`, { message: QUESTIONS[i % QUESTIONS.length] }, auth);
      return reply.conversationId;
    });
    conversationPool.push(...created);
  }
  return conversationPool.slice(0, n);
}

async function concurrencyStep(worker, apiKey, botId, n) {
  let conversationIds;
  try {
    conversationIds = await conversations(worker, apiKey, botId, n);
  } catch (err) {
    return { n, open: 0, answered: 0, failed: n, openMs: Number.NaN, p50: Number.NaN, p95: Number.NaN, turnsPerSecond: Number.NaN, failures: [`creating the conversations failed: ${err.message}`] };
  }
  const openStarted = performance.now();
  const opened = await Promise.allSettled(conversationIds.map((id) => openRoom(worker.url, apiKey, id)));
  const openMs = performance.now() - openStarted;
  const rooms = opened.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failures = opened.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  const askStarted = performance.now();
  const answers = await Promise.allSettled(rooms.map((room, i) => room.ask(QUESTIONS[(i + 1) % QUESTIONS.length], WS_ANSWER_TIMEOUT_MS)));
  const askSeconds = (performance.now() - askStarted) / 1000;
  failures.push(...answers.filter((r) => r.status === 'rejected').map((r) => r.reason.message));
  await Promise.all(rooms.map((room) => room.close()));
  const latencies = stats(answers.filter((r) => r.status === 'fulfilled').map((r) => r.value.ms));
  // Answers per second while all N wait: the Worker's turn throughput, which is what bounds N here.
  return { n, open: rooms.length, answered: latencies.n, failed: failures.length, openMs, p50: latencies.p50, p95: latencies.p95, turnsPerSecond: latencies.n / askSeconds, failures };
}

async function idleStep(worker, apiKey, botId, n) {
  let conversationIds;
  try {
    conversationIds = await conversations(worker, apiKey, botId, n);
  } catch (err) {
    return { n, open: 0, alive: 0, failed: n, openMs: Number.NaN, p50: Number.NaN, p95: Number.NaN, failures: [`creating the conversations failed: ${err.message}`] };
  }
  // Opened a few at a time, as visitors arrive: this phase asks how many sockets stay open, not
  // how fast a burst of upgrades is accepted (the concurrency phase opens all at once).
  const openStarted = performance.now();
  const opened = await pool(conversationIds.length, IDLE_OPEN_CONCURRENCY, (i) =>
    openRoom(worker.url, apiKey, conversationIds[i]).then(
      (value) => ({ status: 'fulfilled', value }),
      (reason) => ({ status: 'rejected', reason }),
    ),
  );
  const openMs = performance.now() - openStarted;
  const rooms = opened.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failures = opened.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  const pongs = await Promise.allSettled(rooms.map((room) => room.ping(WS_ANSWER_TIMEOUT_MS)));
  failures.push(...pongs.filter((r) => r.status === 'rejected').map((r) => r.reason.message));
  await Promise.all(rooms.map((room) => room.close()));
  const latencies = stats(pongs.filter((r) => r.status === 'fulfilled').map((r) => r.value));
  return { n, open: rooms.length, alive: latencies.n, failed: failures.length, openMs, p50: latencies.p50, p95: latencies.p95, failures };
}

const fakeModel = createZeroLatencyModel();
let worker = null;
let exitCode = 0;
try {
  worker = await startBenchWorker({
    // The operator's default model: what a bot with `model: default` on an org without settings uses.
    vars: { CHAT_BASE_URL: MODEL_BASE_URL, CHAT_API_KEY: 'bench-key', CHAT_MODEL: fakeModel.model, EGRESS_ALLOW_HOSTS: 'localhost:11434' },
    webFetcher: (request) => fakeModel.fetch(request),
  });
  const { apiKey } = await registerAndCreateApiKey(worker.url, { scopes: ['bots:read', 'bots:write', 'sources:read', 'sources:write', 'chat'] });
  const auth = { authorization: `Bearer ${apiKey}` };
  const bots = {
    model: await botWithKnowledge(worker.url, auth, { name: 'Chat bench (zero-latency model)', model: { provider: 'openai-compatible', model: 'default' } }),
    offline: await botWithKnowledge(worker.url, auth, { name: 'Chat bench (offline answerer)' }),
  };

  console.log(`\nChat turn overhead: ${TURNS} sequential streamed turns per bot (new conversation each), ${TURNS} bare requests and ${TURNS} searches, in ${ROUNDS} interleaved rounds after ${WARMUP} warm-up each; workerd direct at ${worker.url.host}\n`);
  const o = await measureOverhead(worker, auth, bots);
  const ratio = { first: o.modelFirst.p50 / o.bare.p50, total: o.modelTotal.p50 / o.bare.p50 };
  printTable(
    [
      { key: 'name', title: 'target', align: 'left' },
      { key: 'n', title: 'requests' },
      { key: 'p50', title: 'p50 ms', digits: 2 },
      { key: 'p95', title: 'p95 ms', digits: 2 },
      { key: 'r50', title: 'p50 / bare', align: 'right' },
      { key: 'r95', title: 'p95 / bare', align: 'right' },
    ],
    [
      { name: 'bare: GET /__bench/bare (1 D1 read)', ...o.bare, r50: times(1), r95: times(1) },
      ...[
        ['search alone: POST /bots/{id}/search', o.search],
        ['zero-latency model: first token', o.modelFirst],
        ['zero-latency model: whole turn (done)', o.modelTotal],
        ['offline answerer: first token', o.offlineFirst],
        ['offline answerer: whole turn (done)', o.offlineTotal],
      ].map(([name, s]) => ({ name, ...s, r50: times(s.p50 / o.bare.p50), r95: times(s.p95 / o.bare.p95) })),
    ],
  );
  console.log(`zero-latency model calls: ${fakeModel.stats.completions} (${fakeModel.stats.streamed} streamed)`);
  const worst = Math.max(ratio.first, ratio.total);
  if (worst <= TARGET_RATIO) console.log(`overhead within target: p50 first token ${times(ratio.first)}, whole turn ${times(ratio.total)} of the bare route (≤ ${TARGET_RATIO}×)`);
  else {
    console.log(`OVERHEAD ABOVE TARGET: p50 first token ${times(ratio.first)}, whole turn ${times(ratio.total)} of the bare route (target ≤ ${TARGET_RATIO}×)`);
    exitCode = 1;
  }

  console.log(`\nWebSocket concurrency: N conversations, one socket each, all sending one message at once (zero-latency model); N doubles from ${WS_START} until a failure or p95 > ${WS_P95_LIMIT_MS} ms\n`);
  const steps = [];
  let sustained = null;
  for (let n = WS_START; n <= WS_MAX; n *= 2) {
    const step = await concurrencyStep(worker, apiKey, bots.model.id, n);
    steps.push(step);
    const ok = step.failed === 0 && step.p95 <= WS_P95_LIMIT_MS;
    if (!ok) {
      const reasons = [...new Set(step.failures)].slice(0, 3);
      console.log(`N=${n} not sustained: ${step.failed} failed${reasons.length ? ` (${reasons.join('; ')})` : ''}, p95 ${step.p95?.toFixed(0)} ms`);
      break;
    }
    sustained = step;
  }
  printTable(
    [
      { key: 'n', title: 'sockets' },
      { key: 'open', title: 'opened' },
      { key: 'answered', title: 'answered' },
      { key: 'failed', title: 'failed' },
      { key: 'openMs', title: 'open all ms', digits: 0 },
      { key: 'p50', title: 'p50 ms', digits: 1 },
      { key: 'p95', title: 'p95 ms', digits: 1 },
      { key: 'turnsPerSecond', title: 'answers/s', digits: 1 },
    ],
    steps,
  );
  if (sustained) {
    const capped = sustained === steps.at(-1) ? ` (stopped at the CHAT_BENCH_MAX_SOCKETS cap of ${WS_MAX})` : '';
    console.log(`largest N sustained: ${sustained.n} concurrent conversations, p50 ${sustained.p50.toFixed(1)} ms, p95 ${sustained.p95.toFixed(1)} ms${capped}`);
  } else {
    console.log(`no N sustained: even ${WS_START} concurrent conversations failed or took over ${WS_P95_LIMIT_MS} ms at p95`);
    exitCode = 1;
  }

  console.log(`\nIdle sockets held: N conversations with one open socket each, opened ${IDLE_OPEN_CONCURRENCY} at a time, then every socket answering a ping at once; N doubles until a failure, pong p95 > ${WS_P95_LIMIT_MS} ms or ${WS_MAX_IDLE}\n`);
  const idleSteps = [];
  let held = null;
  for (let n = Math.max(WS_START, (sustained?.n ?? WS_START / 2) * 2); n <= WS_MAX_IDLE; n *= 2) {
    const step = await idleStep(worker, apiKey, bots.model.id, n);
    idleSteps.push(step);
    if (step.failed > 0 || step.p95 > WS_P95_LIMIT_MS) {
      const reasons = [...new Set(step.failures)].slice(0, 3);
      console.log(`N=${n} not held: ${step.failed} failed${reasons.length ? ` (${reasons.join('; ')})` : ''}, pong p95 ${step.p95?.toFixed(0)} ms`);
      break;
    }
    held = step;
  }
  printTable(
    [
      { key: 'n', title: 'sockets' },
      { key: 'open', title: 'opened' },
      { key: 'alive', title: 'ponged' },
      { key: 'failed', title: 'failed' },
      { key: 'openMs', title: 'open all ms', digits: 0 },
      { key: 'p50', title: 'pong p50 ms', digits: 1 },
      { key: 'p95', title: 'pong p95 ms', digits: 1 },
    ],
    idleSteps,
  );
  if (held) console.log(`largest N of idle sockets held: ${held.n}${held === idleSteps.at(-1) ? ` (the CHAT_BENCH_MAX_IDLE_SOCKETS cap)` : ''}, pong p95 ${held.p95.toFixed(1)} ms`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  exitCode = 1;
} finally {
  await worker?.dispose();
}
process.exit(exitCode);
