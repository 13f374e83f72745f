/**
 * Ingestion throughput, end to end through the real queue path: text sources are created
 * through the public API and the clock stops when the last one is `ready` (extract, chunk,
 * offline embed, vector upsert, D1 + FTS writes, all in queue jobs). Prints MB of text per
 * minute and chunks per second. Target: >= 5 MB of text per minute.
 */
import { startBenchWorker } from './lib/worker.mjs';
import { getJson, postJson, registerAndCreateApiKey } from './lib/api-client.mjs';
import { printTable } from './lib/table.mjs';

const DOCUMENTS = Number(process.env.INGEST_DOCUMENTS ?? 40);
const DOCUMENT_BYTES = Number(process.env.INGEST_DOCUMENT_BYTES ?? 128 * 1024);

// Deterministic prose: sentences from a fixed vocabulary, grouped in paragraphs and sections.
function makeDocument(seed, bytes) {
  const words = 'widget daemon invoice refund policy turbine cluster region latency token bucket replica shard schedule quota tenant webhook signature retention export archive audit compliance backup restore encryption rotation certificate gateway proxy cache eviction timeout retry backoff'.split(' ');
  let state = seed * 2654435761 % 4294967296;
  const next = () => (state = (state * 1664525 + 1013904223) % 4294967296) / 4294967296;
  let out = `# Handbook part ${seed}\n\n`;
  let section = 0;
  while (out.length < bytes) {
    if (next() < 0.08) out += `## Section ${++section}\n\n`;
    const sentences = 3 + Math.floor(next() * 5);
    for (let s = 0; s < sentences; s++) {
      const length = 8 + Math.floor(next() * 14);
      const sentence = Array.from({ length }, () => words[Math.floor(next() * words.length)]).join(' ');
      out += sentence[0].toUpperCase() + sentence.slice(1) + '. ';
    }
    out += '\n\n';
  }
  return out.slice(0, bytes);
}

const worker = await startBenchWorker();
try {
  const { apiKey } = await registerAndCreateApiKey(worker.url, { scopes: ['bots:write', 'bots:read', 'sources:write', 'sources:read'] });
  const auth = { authorization: `Bearer ${apiKey}` };
  const bot = await postJson(worker.url, '/api/v1/bots', { name: 'Ingestion bench' }, auth);
  const docs = Array.from({ length: DOCUMENTS }, (_, i) => makeDocument(i + 1, DOCUMENT_BYTES));
  const totalBytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);

  const started = performance.now();
  const ids = [];
  for (const [i, text] of docs.entries()) {
    ids.push((await postJson(worker.url, `/api/v1/bots/${bot.id}/sources`, { type: 'text', title: `doc ${i}`, text }, auth)).id);
  }
  let chunks = 0;
  const pending = new Set(ids);
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const source = await getJson(worker.url, `/api/v1/sources/${id}`, auth);
      if (source.status === 'failed') throw new Error(`source failed: ${source.error}`);
      if (source.status === 'ready') {
        pending.delete(id);
        chunks += source.chunks;
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - started) / 1000;
  const mb = totalBytes / 1024 / 1024;
  console.log(`\nIngestion (offline embedder, real queue path): ${DOCUMENTS} text sources of ${(DOCUMENT_BYTES / 1024).toFixed(0)} KiB\n`);
  printTable(
    [
      { key: 'mb', title: 'MB of text', digits: 2 },
      { key: 'chunks', title: 'chunks' },
      { key: 'seconds', title: 'seconds', digits: 1 },
      { key: 'mbPerMin', title: 'MB/min', digits: 2 },
      { key: 'chunksPerSec', title: 'chunks/s', digits: 0 },
    ],
    [{ mb, chunks, seconds, mbPerMin: (mb / seconds) * 60, chunksPerSec: chunks / seconds }],
  );
  console.log(`\ntarget >= 5 MB/min: ${(mb / seconds) * 60 >= 5 ? 'met' : 'NOT met'}`);
} finally {
  await worker.dispose();
}
