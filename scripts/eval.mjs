#!/usr/bin/env node
/**
 * `npm run eval`: retrieval quality on the shipped corpus (test/fixtures/corpus). Ingests every
 * document through the public API of a real Worker in workerd (queue jobs, chunker, offline
 * embedder, local vector index, FTS5), then asks every question in questions.json in each
 * search mode and prints recall@1, recall@5 and MRR at the document level.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startBenchWorker, projectRoot } from '../bench/lib/worker.mjs';
import { getJson, postJson, registerAndCreateApiKey } from '../bench/lib/api-client.mjs';
import { printTable } from '../bench/lib/table.mjs';

const corpusDir = path.join(projectRoot, 'test/fixtures/corpus');
const MODES = ['keyword', 'vector', 'hybrid'];
const TOP_K = 5;

async function waitUntilReady(url, auth, sourceIds) {
  const deadline = Date.now() + 120_000;
  const pending = new Set(sourceIds);
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} sources not ready after 120 s`);
    for (const id of [...pending]) {
      const source = await getJson(url, `/api/v1/sources/${id}`, auth);
      if (source.status === 'failed') throw new Error(`source ${source.title} failed: ${source.error}`);
      if (source.status === 'ready') pending.delete(id);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
}

const worker = await startBenchWorker();
try {
  const { apiKey } = await registerAndCreateApiKey(worker.url, { scopes: ['bots:read', 'bots:write', 'sources:read', 'sources:write'] });
  const auth = { authorization: `Bearer ${apiKey}` };
  const bot = await postJson(worker.url, '/api/v1/bots', { name: 'Eval' }, auth);

  const files = (await readdir(corpusDir)).filter((f) => /\.(md|txt)$/.test(f)).sort();
  const { questions } = JSON.parse(await readFile(path.join(corpusDir, 'questions.json'), 'utf8'));
  const sourceToFile = new Map();
  for (const file of files) {
    const text = await readFile(path.join(corpusDir, file), 'utf8');
    const source = await postJson(worker.url, `/api/v1/bots/${bot.id}/sources`, { type: 'text', title: file, text }, auth);
    sourceToFile.set(source.id, file);
  }
  await waitUntilReady(worker.url, auth, [...sourceToFile.keys()]);

  const rows = [];
  const byKind = new Map();
  for (const mode of MODES) {
    let hit1 = 0;
    let hit5 = 0;
    let reciprocal = 0;
    for (const q of questions) {
      const gold = new Set(q.gold ?? q.goldDocuments ?? q.documents);
      const { results } = await postJson(worker.url, `/api/v1/bots/${bot.id}/search`, { query: q.question, topK: TOP_K * 3, mode }, auth);
      // Document-level ranking: the first chunk of each document counts.
      const ranked = [...new Set(results.map((r) => sourceToFile.get(r.source.id)))].slice(0, TOP_K);
      const firstGold = ranked.findIndex((f) => gold.has(f));
      if (firstGold === 0) hit1++;
      if (firstGold >= 0) {
        hit5++;
        reciprocal += 1 / (firstGold + 1);
      }
      const kind = byKind.get(`${q.kind ?? 'all'}|${mode}`) ?? { kind: q.kind ?? 'all', mode, n: 0, mrr: 0 };
      kind.n++;
      kind.mrr += firstGold >= 0 ? 1 / (firstGold + 1) : 0;
      byKind.set(`${q.kind ?? 'all'}|${mode}`, kind);
    }
    const n = questions.length;
    rows.push({ mode, r1: hit1 / n, r5: hit5 / n, mrr: reciprocal / n });
  }
  console.log(`\nRetrieval evaluation: ${files.length} documents, ${questions.length} questions, offline embedder\n`);
  printTable(
    [
      { key: 'mode', title: 'mode', align: 'left' },
      { key: 'r1', title: 'recall@1', digits: 3 },
      { key: 'r5', title: 'recall@5', digits: 3 },
      { key: 'mrr', title: 'MRR', digits: 3 },
    ],
    rows,
  );
  console.log('\nMRR by question kind\n');
  printTable(
    [
      { key: 'kind', title: 'kind', align: 'left' },
      { key: 'mode', title: 'mode', align: 'left' },
      { key: 'n', title: 'questions' },
      { key: 'mrr', title: 'MRR', digits: 3 },
    ],
    [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind)).map((k) => ({ ...k, mrr: k.mrr / k.n })),
  );
  const mrr = Object.fromEntries(rows.map((r) => [r.mode, r.mrr]));
  const wins = mrr.hybrid > mrr.keyword && mrr.hybrid > mrr.vector;
  console.log(`\nhybrid MRR ${mrr.hybrid.toFixed(3)} ${wins ? 'beats' : 'does NOT beat'} keyword (${mrr.keyword.toFixed(3)}) and vector (${mrr.vector.toFixed(3)})`);
  process.exitCode = wins ? 0 : 1;
} finally {
  await worker.dispose();
}
