/**
 * Chunker throughput against LangChain's RecursiveCharacterTextSplitter on the same text.
 *
 *   node bench/chunker.mjs [--mb 3] [--runs 7]
 *
 * Our chunker is TypeScript, so it is bundled on the fly with esbuild (a wrangler dependency)
 * for Node. LangChain runs twice:
 *   - "tokens": lengthFunction = the same cl100k_base counter, chunkSize/overlap in tokens:
 *     the apples-to-apples comparison (both produce chunks bounded in tokens);
 *   - "chars": its default length (characters) with sizes x4 (~4 chars per token): cheaper, but
 *     its chunks are not bounded in tokens, so it is shown for scale, not as the target.
 * Runs are interleaved (so background load hits every variant alike); the median of CPU time
 * per run is reported, since this machine is shared. Target: ours >= 3x LangChain "tokens".
 */
import { build } from 'esbuild';
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { countTokens as libraryCountTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const argument = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const TARGET_MB = argument('mb', 3);
const RUNS = argument('runs', 7);
const CHUNK_TOKENS = 512;
const OVERLAP_TOKENS = 64;
const CHARS_PER_TOKEN = 4;

async function loadChunker() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kyro-chunker-bench-'));
  const outfile = path.join(dir, 'chunker.mjs');
  await build({
    entryPoints: [path.join(root, 'src/features/knowledge/chunker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outfile,
    logLevel: 'error',
  });
  const module = await import(pathToFileURL(outfile).href);
  await rm(dir, { recursive: true, force: true });
  return module;
}

/** Deterministic documentation-like text: headings, paragraphs of varied sentences, lists, code. */
function generateCorpus(targetChars) {
  let state = 0x9e3779b9;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (list) => list[Math.floor(random() * list.length)];
  const subjects = ['The billing service', 'Each workspace', 'An administrator', 'The crawler', 'Your API key', 'The webhook endpoint', 'A visitor', 'The export job', 'Single sign-on', 'The retention policy', 'Every request', 'The dashboard'];
  const verbs = ['sends', 'rejects', 'stores', 'retries', 'indexes', 'encrypts', 'forwards', 'summarizes', 'validates', 'rotates', 'deletes', 'schedules'];
  const objects = ['the invoice', 'a signed payload', 'each conversation', 'expired sessions', 'the uploaded document', 'rate-limited calls', 'the audit log', 'a CSV export', 'pending escalations', 'the sitemap', 'stale embeddings', 'refresh tokens'];
  const tails = ['within five minutes', 'after the grace period ends', 'unless the owner disables it', 'for up to 30 days', 'using exponential backoff', 'in the region you selected', 'before the next billing cycle', 'when the quota is exceeded', 'on every change', 'with a 429 status code', 'e.g. during a migration', 'at 02:00 UTC'];
  const topics = ['Billing', 'Single sign-on', 'Webhooks', 'Rate limits', 'Data retention', 'Exports', 'Crawling', 'Widget', 'Analytics', 'API keys'];
  const sentence = () => {
    const s = `${pick(subjects)} ${pick(verbs)} ${pick(objects)} ${pick(tails)}`;
    const r = random();
    return r < 0.08 ? `${s}? Yes.` : r < 0.2 ? `${s}, and ${pick(subjects).toLowerCase()} ${pick(verbs)} ${pick(objects)}.` : `${s}.`;
  };
  const parts = [];
  let length = 0;
  while (length < targetChars) {
    const r = random();
    let part;
    if (r < 0.06) part = `## ${pick(topics)} ${Math.floor(random() * 100)}`;
    else if (r < 0.12) part = Array.from({ length: 3 + Math.floor(random() * 4) }, () => `- ${sentence()}`).join('\n');
    else if (r < 0.15) part = '```json\n{ "event": "invoice.paid", "retries": 3, "id": "evt_' + Math.floor(random() * 1e9) + '" }\n```';
    else part = Array.from({ length: 2 + Math.floor(random() * 7) }, sentence).join(' ');
    parts.push(part);
    length += part.length + 2;
  }
  return parts.join('\n\n');
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function cpuMilliseconds(fn) {
  const before = process.cpuUsage();
  const result = fn();
  const used = process.cpuUsage(before);
  return { result, ms: (used.user + used.system) / 1000 };
}

async function cpuMillisecondsAsync(fn) {
  const before = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(before);
  return { result, ms: (used.user + used.system) / 1000 };
}

const { chunkText } = await loadChunker();
const text = generateCorpus(TARGET_MB * 1_000_000);
const megabytes = Buffer.byteLength(text) / 1e6;
const plainText = { disallowedSpecial: new Set() };

const variants = {
  'ours recursive': () => chunkText(text, { strategy: 'recursive', chunkTokens: CHUNK_TOKENS, overlapTokens: OVERLAP_TOKENS }),
  'ours markdown': () => chunkText(text, { strategy: 'markdown', chunkTokens: CHUNK_TOKENS, overlapTokens: OVERLAP_TOKENS }),
  'ours sentence-window': () => chunkText(text, { strategy: 'sentence-window', chunkTokens: CHUNK_TOKENS }),
  'langchain tokens': new RecursiveCharacterTextSplitter({
    chunkSize: CHUNK_TOKENS,
    chunkOverlap: OVERLAP_TOKENS,
    lengthFunction: (value) => libraryCountTokens(value, plainText),
  }),
  'langchain chars': new RecursiveCharacterTextSplitter({
    chunkSize: CHUNK_TOKENS * CHARS_PER_TOKEN,
    chunkOverlap: OVERLAP_TOKENS * CHARS_PER_TOKEN,
  }),
};

async function runVariant(variant) {
  if (typeof variant === 'function') return cpuMilliseconds(variant);
  return cpuMillisecondsAsync(() => variant.splitText(text));
}

console.log(`text: ${megabytes.toFixed(2)} MB, ${libraryCountTokens(text, plainText)} cl100k tokens; chunk ${CHUNK_TOKENS} tokens, overlap ${OVERLAP_TOKENS}; ${RUNS} runs after 1 warm-up, interleaved, median CPU time`);
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
const chunkCounts = {};
for (let run = 0; run <= RUNS; run++) {
  for (const [name, variant] of Object.entries(variants)) {
    const { result, ms } = await runVariant(variant);
    chunkCounts[name] = result.length;
    if (run > 0) samples[name].push(ms);
  }
}

const rows = Object.entries(samples).map(([name, values]) => {
  const ms = median(values);
  return { name, ms, mbPerSecond: megabytes / (ms / 1000), chunksPerSecond: chunkCounts[name] / (ms / 1000), chunks: chunkCounts[name] };
});
for (const row of rows) {
  console.log(
    `${row.name.padEnd(22)} ${row.ms.toFixed(0).padStart(6)} ms  ${row.mbPerSecond.toFixed(1).padStart(6)} MB/s  ${row.chunksPerSecond.toFixed(0).padStart(7)} chunks/s  (${row.chunks} chunks)`,
  );
}
const byName = Object.fromEntries(rows.map((row) => [row.name, row]));
const ratioTokens = byName['ours recursive'].mbPerSecond / byName['langchain tokens'].mbPerSecond;
const ratioChars = byName['ours recursive'].mbPerSecond / byName['langchain chars'].mbPerSecond;
console.log(`ours recursive / langchain tokens: ${ratioTokens.toFixed(2)}x (target >= 3)`);
console.log(`ours recursive / langchain chars:  ${ratioChars.toFixed(2)}x (for scale: LangChain counting characters, not tokens)`);

// A document with no boundaries at all must stay linear (gpt-tokenizer alone is quadratic here).
const run = 'a'.repeat(1_000_000);
const runMs = median([0, 1, 2].map(() => cpuMilliseconds(() => chunkText(run, { strategy: 'recursive', chunkTokens: CHUNK_TOKENS })).ms));
console.log(`ours recursive on a 1 MB run of one letter: ${runMs.toFixed(0)} ms`);
