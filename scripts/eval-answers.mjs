/**
 * The answer part of `npm run eval`: asks every question of a corpus through the chat route
 * of the real Worker (`POST /api/v1/bots/{botId}/chat`, one fresh conversation per question,
 * a bot with default settings, so the offline extractive answerer unless the Worker was given
 * a model) and scores the answers against the gold answers in the corpus's answers.json with
 * scripts/answer-metrics.mjs. Kept apart from the retrieval part of scripts/eval.mjs on
 * purpose: its own org, bot and ingestion, so neither part's settings leak into the other.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { getJson, postJson, registerAndCreateApiKey } from '../bench/lib/api-client.mjs';
import { printTable } from '../bench/lib/table.mjs';
import { ANSWER_TARGETS, charLength, containsGold, median, missedTargets, missingFromAnswer, summarizeAnswers } from './answer-metrics.mjs';

const READY_TIMEOUT_MS = 180_000;

async function ingestCorpus(url, auth, dir, botName) {
  const bot = await postJson(url, '/api/v1/bots', { name: botName }, auth);
  const sourceToFile = new Map();
  const files = (await readdir(dir)).filter((f) => /\.(md|txt)$/.test(f)).sort();
  for (const file of files) {
    const text = await readFile(path.join(dir, file), 'utf8');
    const source = await postJson(url, `/api/v1/bots/${bot.id}/sources`, { type: 'text', title: file, text }, auth);
    sourceToFile.set(source.id, file);
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const pending = new Set(sourceToFile.keys());
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} sources not ready after ${READY_TIMEOUT_MS / 1000} s`);
    for (const id of [...pending]) {
      const source = await getJson(url, `/api/v1/sources/${id}`, auth);
      if (source.status === 'failed') throw new Error(`source ${source.title} failed: ${source.error}`);
      if (source.status === 'ready') pending.delete(id);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
  return { bot, files, sourceToFile };
}

/** One turn in a new conversation; the stored assistant message comes back in the JSON reply. */
async function ask(url, auth, botId, question) {
  const reply = await postJson(url, `/api/v1/bots/${botId}/chat`, { message: question, stream: false }, auth);
  if (typeof reply?.message?.content !== 'string') throw new Error(`chat reply without message.content: ${JSON.stringify(reply).slice(0, 300)}`);
  return reply.message;
}

function describeCitations(citations, sourceToFile) {
  return citations.map((c) => `[${c.n}] ${sourceToFile.get(c.sourceId) ?? c.sourceId} ${Number(c.score).toFixed(3)}`).join('  ');
}

/**
 * Asks a corpus's questions through chat, prints its answer table and returns the targets it missed.
 * @param {{ url: URL }} worker
 * @param {{ name: string, dir: string }} corpus
 */
export async function evaluateAnswers(worker, { name, dir }, { verbose = false } = {}) {
  const { apiKey } = await registerAndCreateApiKey(worker.url, { scopes: ['bots:read', 'bots:write', 'sources:read', 'sources:write', 'chat'] });
  const auth = { authorization: `Bearer ${apiKey}` };
  const set = JSON.parse(await readFile(path.join(dir, 'questions.json'), 'utf8'));
  const { answers } = JSON.parse(await readFile(path.join(dir, 'answers.json'), 'utf8'));
  const { bot, files, sourceToFile } = await ingestCorpus(worker.url, auth, dir, `Answer eval ${name}`);

  const covered = [];
  const uncovered = [];
  const models = new Set();
  const latencies = [];
  for (const q of set.questions) {
    const gold = answers[q.id];
    if (typeof gold !== 'string') throw new Error(`${name}: ${q.id} has no gold answer in answers.json`);
    const message = await ask(worker.url, auth, bot.id, q.question);
    if (message.model) models.add(message.model);
    if (typeof message.latencyMs === 'number') latencies.push(message.latencyMs);
    const first = message.citations[0];
    covered.push({
      id: q.id,
      gold,
      goldFiles: q.gold,
      answer: message.content,
      unanswered: message.unanswered,
      firstCitedFile: first ? (sourceToFile.get(first.sourceId) ?? null) : null,
    });
    if (verbose) {
      const missing = missingFromAnswer(message.content, gold);
      const verdict = message.unanswered ? 'ABSTAINED' : missing.length ? `MISSING ${missing.join(' ')}` : 'gold contained';
      console.log(`\n${name} ${q.id} [${verdict}] (${charLength(message.content)} chars) ${q.question}\n  gold: ${gold} (${q.gold.join(', ')})\n  answer: ${message.content}\n  citations: ${describeCitations(message.citations, sourceToFile) || 'none'}`);
    }
  }
  for (const q of set.uncovered ?? []) {
    const message = await ask(worker.url, auth, bot.id, q.question);
    uncovered.push({ id: q.id, unanswered: message.unanswered });
    if (verbose) console.log(`\n${name} ${q.id} UNCOVERED [${message.unanswered ? 'abstained' : 'ANSWERED'}] ${q.question}\n  answer: ${message.content}\n  citations: ${describeCitations(message.citations, sourceToFile) || 'none'}`);
  }

  const summary = summarizeAnswers({ covered, uncovered });
  console.log(
    `\nCorpus ${name}, answers: ${files.length} documents, ${summary.answerable} answerable and ${summary.unanswerable} unanswerable questions through POST /api/v1/bots/{botId}/chat, model ${[...models].join(', ')}, median turn ${median(latencies)} ms\n`,
  );
  printTable(
    [
      { key: 'metric', title: 'metric', align: 'left' },
      { key: 'value', title: 'value' },
      { key: 'target', title: 'target', align: 'left' },
    ],
    [
      { metric: 'gold contained (answerable)', value: summary.goldContained.toFixed(3), target: `≥ ${ANSWER_TARGETS.goldContained}` },
      { metric: 'gold contained (answered only)', value: summary.goldContainedAnswered.toFixed(3), target: '-' },
      { metric: 'citation accuracy (answered)', value: summary.citationAccuracy.toFixed(3), target: '-' },
      { metric: 'abstention (unanswerable)', value: summary.abstain.toFixed(3), target: `≥ ${ANSWER_TARGETS.abstainUncovered}` },
      { metric: 'false abstention (answerable)', value: summary.falseAbstain.toFixed(3), target: `≤ ${ANSWER_TARGETS.falseAbstainCovered}` },
      { metric: 'median answer length (chars)', value: summary.medianChars.toFixed(1), target: `< ${ANSWER_TARGETS.medianChars}` },
    ],
  );
  const missed = missedTargets(`${name} answers`, summary);
  console.log(missed.length ? `${name} answers: ${missed.length} target(s) missed` : `${name} answers: all targets met`);
  return missed;
}
