#!/usr/bin/env node
/**
 * `npm run eval`: retrieval quality on the shipped corpora (test/fixtures/corpus: English, and
 * the de/, es/ and ja/ folders). Ingests every document through the public API of a real
 * Worker in workerd (queue jobs, chunker, offline embedder, local vector index, FTS5), asks
 * every question in each mode and prints, per corpus, recall@1, recall@5 and MRR at the
 * document level, per question kind, and abstention: the share of questions the corpus cannot
 * answer whose top hit stays under the relevance threshold, and the share of answerable ones
 * that falsely fall under it.
 *
 * Modes: keyword, vector, hybrid (the default fusion), hybrid-rrf (for comparison) and
 * hybrid+rerank (the org's reranker: here the fake lexical reranker of the test site).
 *
 * Exit code 1 when hybrid falls below the better of keyword and vector (recall@5 or MRR) on
 * any corpus or question kind, or when hybrid misses the abstention targets.
 * `--verbose` prints every question's top hit and relevance.
 *
 * Then, per corpus, answer metrics through the chat route (scripts/eval-answers.mjs), with
 * their own targets. `--only=retrieval` or `--only=answers` runs one part.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { startBenchWorker, projectRoot } from '../bench/lib/worker.mjs';
import { getJson, postJson, registerAndCreateApiKey } from '../bench/lib/api-client.mjs';
import { printTable } from '../bench/lib/table.mjs';
import testSite from '../test/fixtures/site/worker.js';
import { evaluateAnswers } from './eval-answers.mjs';

const corpusRoot = path.join(projectRoot, 'test/fixtures/corpus');
const TOP_K = 5;
/** Chat's abstention threshold on calibrated relevance: DEFAULT_ABSTAIN_RELEVANCE in src/limits.ts. */
const ABSTAIN_BELOW = 0.5;
/** The chat issue's targets. */
const TARGETS = { abstainUncovered: 0.9, falseAbstainCovered: 0.05 };
const MODES = [
  { name: 'keyword', body: { mode: 'keyword', rerank: false } },
  { name: 'vector', body: { mode: 'vector', rerank: false } },
  { name: 'hybrid', body: { mode: 'hybrid', rerank: false } },
  { name: 'hybrid-rrf', body: { mode: 'hybrid', rerank: false }, bot: { retrieval: { fusion: 'rrf' } } },
  { name: 'hybrid+rerank', body: { mode: 'hybrid', rerank: true } },
];
const verbose = process.argv.includes('--verbose');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
// A tolerance for float noise only: "never below" is meant literally.
const EPSILON = 1e-9;

async function waitUntilReady(url, auth, sourceIds) {
  const deadline = Date.now() + 180_000;
  const pending = new Set(sourceIds);
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} sources not ready after 180 s`);
    for (const id of [...pending]) {
      const source = await getJson(url, `/api/v1/sources/${id}`, auth);
      if (source.status === 'failed') throw new Error(`source ${source.title} failed: ${source.error}`);
      if (source.status === 'ready') pending.delete(id);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
}

async function send(url, method, route, body, headers) {
  const res = await fetch(new URL(route, url), { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function corpora() {
  const found = [{ name: 'en', dir: corpusRoot }];
  for (const entry of (await readdir(corpusRoot)).sort()) {
    const dir = path.join(corpusRoot, entry);
    if ((await stat(dir)).isDirectory()) found.push({ name: entry, dir });
  }
  return found;
}

async function evaluateCorpus(worker, { name, dir }) {
  const { apiKey, accessToken } = await registerAndCreateApiKey(worker.url, { scopes: ['bots:read', 'bots:write', 'sources:read', 'sources:write'] });
  const auth = { authorization: `Bearer ${apiKey}` };
  // The org's reranker: the test site's fake, reached through the WEB_FETCHER binding.
  await send(worker.url, 'PATCH', '/api/v1/settings', { reranker: { url: 'https://rerank.eval.test/v1/rerank', model: 'lexical-v1', topN: 20 } }, { authorization: `Bearer ${accessToken}` });

  const files = (await readdir(dir)).filter((f) => /\.(md|txt)$/.test(f)).sort();
  const set = JSON.parse(await readFile(path.join(dir, 'questions.json'), 'utf8'));
  const covered = set.questions;
  const uncovered = set.uncovered ?? [];

  const bots = new Map();
  const sourceToFile = new Map();
  for (const mode of MODES) {
    const key = JSON.stringify(mode.bot ?? {});
    if (bots.has(key)) continue;
    const bot = await postJson(worker.url, '/api/v1/bots', { name: `Eval ${name}`, ...(mode.bot ?? {}) }, auth);
    bots.set(key, bot);
    for (const file of files) {
      const text = await readFile(path.join(dir, file), 'utf8');
      const source = await postJson(worker.url, `/api/v1/bots/${bot.id}/sources`, { type: 'text', title: file, text }, auth);
      sourceToFile.set(source.id, file);
    }
  }
  await waitUntilReady(worker.url, auth, [...sourceToFile.keys()]);

  const rows = [];
  const kinds = new Map();
  for (const mode of MODES) {
    const bot = bots.get(JSON.stringify(mode.bot ?? {}));
    const ask = (question) => postJson(worker.url, `/api/v1/bots/${bot.id}/search`, { query: question, topK: TOP_K * 3, ...mode.body }, auth);
    let hit1 = 0;
    let hit5 = 0;
    let reciprocal = 0;
    let falseAbstain = 0;
    // False abstentions on questions whose top hit IS a right document: calibration errors,
    // as opposed to retrieval misses (there, abstaining is what chat should do).
    let falseAbstainTopRight = 0;
    for (const q of covered) {
      const gold = new Set(q.gold);
      const { results } = await ask(q.question);
      // Document-level ranking: the first chunk of each document counts.
      const ranked = [...new Set(results.map((r) => sourceToFile.get(r.source.id)))].slice(0, TOP_K);
      const firstGold = ranked.findIndex((f) => gold.has(f));
      if (firstGold === 0) hit1++;
      if (firstGold >= 0) {
        hit5++;
        reciprocal += 1 / (firstGold + 1);
      }
      const top = results[0]?.relevance ?? 0;
      if (top < ABSTAIN_BELOW) falseAbstain++;
      if (top < ABSTAIN_BELOW && firstGold === 0) falseAbstainTopRight++;
      const kind = kinds.get(`${q.kind}|${mode.name}`) ?? { kind: q.kind, mode: mode.name, n: 0, r5: 0, mrr: 0 };
      kind.n++;
      kind.r5 += firstGold >= 0 ? 1 : 0;
      kind.mrr += firstGold >= 0 ? 1 / (firstGold + 1) : 0;
      kinds.set(`${q.kind}|${mode.name}`, kind);
      if (verbose) console.log(`${name} ${mode.name} ${q.id} gold@${firstGold + 1} top=${ranked[0]} rel=${top.toFixed(3)} ${q.question}`);
    }
    let abstained = 0;
    for (const q of uncovered) {
      const { results } = await ask(q.question);
      const top = results[0]?.relevance ?? 0;
      if (top < ABSTAIN_BELOW) abstained++;
      if (verbose) console.log(`${name} ${mode.name} ${q.id} UNCOVERED rel=${top.toFixed(3)} top=${sourceToFile.get(results[0]?.source.id)} ${q.question}`);
    }
    const n = covered.length;
    rows.push({
      mode: mode.name,
      r1: hit1 / n,
      r5: hit5 / n,
      mrr: reciprocal / n,
      abstain: uncovered.length ? abstained / uncovered.length : NaN,
      falseAbstain: falseAbstain / n,
      falseAbstainTopRight: hit1 ? falseAbstainTopRight / hit1 : NaN,
    });
  }

  console.log(`\nCorpus ${name}: ${files.length} documents, ${covered.length} answerable and ${uncovered.length} unanswerable questions, offline embedder, abstain below relevance ${ABSTAIN_BELOW}\n`);
  printTable(
    [
      { key: 'mode', title: 'mode', align: 'left' },
      { key: 'r1', title: 'recall@1', digits: 3 },
      { key: 'r5', title: 'recall@5', digits: 3 },
      { key: 'mrr', title: 'MRR', digits: 3 },
      { key: 'abstain', title: 'abstain (unanswerable)', digits: 3 },
      { key: 'falseAbstain', title: 'false abstain (answerable)', digits: 3 },
      { key: 'falseAbstainTopRight', title: 'false abstain (top hit right)', digits: 3 },
    ],
    rows,
  );
  const kindRows = [...kinds.values()].sort((a, b) => a.kind.localeCompare(b.kind)).map((k) => ({ ...k, r5: k.r5 / k.n, mrr: k.mrr / k.n }));
  console.log(`\n${name}: by question kind\n`);
  printTable(
    [
      { key: 'kind', title: 'kind', align: 'left' },
      { key: 'mode', title: 'mode', align: 'left' },
      { key: 'n', title: 'questions' },
      { key: 'r5', title: 'recall@5', digits: 3 },
      { key: 'mrr', title: 'MRR', digits: 3 },
    ],
    kindRows,
  );

  const failures = [];
  const check = (label, list) => {
    const by = Object.fromEntries(list.map((r) => [r.mode, r]));
    for (const metric of ['r5', 'mrr']) {
      const best = Math.max(by.keyword[metric], by.vector[metric]);
      if (by.hybrid[metric] + EPSILON < best) failures.push(`${name} ${label}: hybrid ${metric} ${by.hybrid[metric].toFixed(3)} < best part ${best.toFixed(3)}`);
    }
  };
  check('all', rows);
  for (const kind of new Set(kindRows.map((k) => k.kind))) check(kind, kindRows.filter((k) => k.kind === kind));
  const hybrid = rows.find((r) => r.mode === 'hybrid');
  if (uncovered.length && hybrid.abstain < TARGETS.abstainUncovered) failures.push(`${name}: hybrid abstains on ${hybrid.abstain.toFixed(3)} of unanswerable questions (target ≥ ${TARGETS.abstainUncovered})`);
  if (hybrid.falseAbstain > TARGETS.falseAbstainCovered) failures.push(`${name}: hybrid falsely abstains on ${hybrid.falseAbstain.toFixed(3)} of answerable questions (target ≤ ${TARGETS.falseAbstainCovered})`);
  return failures;
}

const worker = await startBenchWorker({ webFetcher: (request) => testSite.fetch(request) });
try {
  const failures = [];
  for (const corpus of await corpora()) {
    if (only !== 'answers') failures.push(...(await evaluateCorpus(worker, corpus)));
    if (only !== 'retrieval') failures.push(...(await evaluateAnswers(worker, corpus, { verbose })));
  }
  console.log(failures.length ? `\nTargets missed:\n- ${failures.join('\n- ')}` : '\nAll targets met: hybrid ≥ its best part on every corpus and kind; abstention and answer metrics within targets.');
  process.exitCode = failures.length ? 1 : 0;
} finally {
  await worker.dispose();
}
