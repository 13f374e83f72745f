/**
 * Webhook delivery throughput through the local queue path: N outbox events wait unpublished,
 * one chat turn (through the public API) asks for the org's events to be published, and the clock
 * stops when the receiver (an in-process fake behind WEB_FETCHER, answering 200 at once) has every
 * one of them: publish jobs fan out, delivery jobs sign (Standard Webhooks), POST through the
 * egress guard and record each attempt. Prints deliveries per second.
 */
import { startBenchWorker } from './lib/worker.mjs';
import { postJson, registerAndCreateApiKey } from './lib/api-client.mjs';
import { printTable } from './lib/table.mjs';

const EVENTS = Number(process.env.WEBHOOK_EVENTS ?? 500);
/** The chat turn below writes these itself: conversation.created, two message.created, conversation.unanswered. */
const TURN_EVENTS = 4;

let received = 0;
const ids = new Set();
const webFetcher = async (request) => {
  const id = request.headers.get('webhook-id');
  if (id && request.headers.get('webhook-signature')?.startsWith('v1,')) {
    ids.add(id);
    received++;
  }
  await request.arrayBuffer();
  return new Response('ok');
};

const worker = await startBenchWorker({ webFetcher });
try {
  const { apiKey, orgId } = await registerAndCreateApiKey(worker.url, { scopes: ['bots:read', 'bots:write', 'chat', 'webhooks:read', 'webhooks:write'] });
  const auth = { authorization: `Bearer ${apiKey}` };
  const bot = await postJson(worker.url, '/api/v1/bots', { name: 'Webhook bench' }, auth);
  await postJson(worker.url, '/api/v1/webhooks', { url: 'http://localhost:11434/bench-receiver', eventTypes: ['*'] }, auth);

  // Events as a service writes them, left unpublished (their publish jobs never sent).
  const now = Date.now();
  const insert = worker.db.prepare('INSERT INTO outbox_events (id, org_id, type, bot_id, conversation_id, data, created_at) VALUES (?, ?, ?, ?, NULL, ?, ?)');
  const rows = Array.from({ length: EVENTS }, (_, i) =>
    insert.bind(`whe_BENCH${String(i).padStart(17, '0')}`, orgId, 'lead.created', bot.id, JSON.stringify({ id: `led_${i}`, botId: bot.id, email: `lead${i}@example.com`, createdAt: new Date(now).toISOString() }), now),
  );
  for (let i = 0; i < rows.length; i += 100) await worker.db.batch(rows.slice(i, i + 100));

  const started = performance.now();
  await postJson(worker.url, `/api/v1/bots/${bot.id}/chat`, { message: 'Start the webhook bench' }, auth);
  const expected = EVENTS + TURN_EVENTS;
  const deadline = Date.now() + 10 * 60 * 1000;
  while (ids.size < expected) {
    if (Date.now() > deadline) throw new Error(`only ${ids.size} of ${expected} events delivered`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`\nWebhook delivery (local queue path, receiver answers 200 at once): ${expected} events to one endpoint\n`);
  printTable(
    [
      { key: 'events', title: 'events' },
      { key: 'requests', title: 'requests' },
      { key: 'seconds', title: 'seconds', digits: 1 },
      { key: 'perSecond', title: 'deliveries/s', digits: 0 },
    ],
    [{ events: expected, requests: received, seconds, perSecond: ids.size / seconds }],
  );
} finally {
  await worker.dispose();
}
