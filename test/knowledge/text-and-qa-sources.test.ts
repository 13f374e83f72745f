import { env, createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { createVectorIndex } from '../../src/vector/vector-index';
import { newId } from '../../src/lib/ids';
import { call, expectProblem, register, createKey } from '../support/api';
import { SOURCE_CREATE_MAX_BODY_BYTES } from '../../src/limits';
import { joinAs } from '../support/accounts';
import { addText, countRows, searchBot, waitForPurge, waitForSource } from '../support/knowledge';

const GUIDE = `# Widget handbook

## Installing
Run the installer with acme install --with-turbines. The daemon listens on port 7421.

## Billing
Invoices are issued on the first business day of each month. Refunds take fourteen days.

## Security
Single sign-on works with any SAML 2.0 identity provider. Sessions expire after twelve hours.`;

describe('text and Q&A sources, from creation to search', () => {
  it('ingests a text source through the queue and finds it by keyword, vector and hybrid search', async () => {
    const owner = await register('kn-text');
    const created = await addText(owner.token, owner.botId, 'Handbook', GUIDE);
    expect(created.status).toBe('queued');

    const ready = await waitForSource(owner.token, created.id);
    expect(ready).toMatchObject({ status: 'ready', error: null, externalId: null, progress: { done: 1, total: 1, failed: 0 } });
    expect(ready.chunks).toBeGreaterThan(0);
    expect(ready.characters).toBe(GUIDE.length);

    for (const mode of ['keyword', 'vector', 'hybrid']) {
      const results = await searchBot(owner.token, owner.botId, 'which port does the daemon listen on', { mode, topK: 3 });
      expect(results.length, mode).toBeGreaterThan(0);
      expect(results[0]!.text, mode).toContain('7421');
      expect(results[0]!.source.id).toBe(created.id);
    }

    const docs = await call('GET', `/api/v1/sources/${created.id}/documents`, { token: owner.token });
    expect(docs.body.data).toHaveLength(1);
    const doc = docs.body.data[0];
    expect(doc).toMatchObject({ status: 'ready', title: 'Handbook', mime: 'text/plain' });
    expect(doc.preview.startsWith('# Widget handbook')).toBe(true);
    const one = await call('GET', `/api/v1/documents/${doc.id}`, { token: owner.token });
    expect(one.body.chunks).toBe(ready.chunks);
    const download = await call('GET', `/api/v1/documents/${doc.id}/download`, { token: owner.token });
    expect(download.status).toBe(200);
    expect(download.body).toBe(GUIDE);
  });

  it('keeps each Q&A pair together as one retrievable chunk', async () => {
    const owner = await register('kn-qa');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, {
      token: owner.token,
      body: {
        type: 'qa',
        pairs: [
          { question: 'Can I pay by bank transfer?', answer: 'Yes, SEPA and ACH transfers are accepted for annual plans.' },
          { question: 'Do you offer a student discount?', answer: 'Students get 40% off with a valid university email.' },
        ],
      },
    });
    expect(res.status).toBe(202);
    const ready = await waitForSource(owner.token, res.body.id);
    expect(ready.chunks).toBe(2);
    const [top] = await searchBot(owner.token, owner.botId, 'student discount');
    expect(top!.text).toBe('Q: Do you offer a student discount?\nA: Students get 40% off with a valid university email.');
  });

  it('refuses the same content twice in one bot, but not in another bot', async () => {
    const owner = await register('kn-dup');
    const first = await addText(owner.token, owner.botId, 'One', 'Identical content for the duplicate check.');
    const again = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'text', title: 'Two', text: 'Identical content for the duplicate check.' } });
    const problem = expectProblem(again, 409, 'duplicate_content');
    expect(problem.existingSourceId).toBe(first.id);
    const other = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'Other bot' } });
    const elsewhere = await call('POST', `/api/v1/bots/${other.body.id}/sources`, { token: owner.token, body: { type: 'text', title: 'Two', text: 'Identical content for the duplicate check.' } });
    expect(elsewhere.status).toBe(202);
  });

  it('validates source bodies with field paths', async () => {
    const owner = await register('kn-valid');
    const bad = expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'qa', pairs: [{ question: '' }] } }), 400, 'validation_failed');
    expect(bad.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['pairs.0.question', 'pairs.0.answer']));
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: 'ftp://example.com/x' } }), 400, 'validation_failed');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'podcast' } }), 400, 'validation_failed');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);
  });

  it('accepts a text source of 1.5 million characters, over the 1 MiB body limit of other routes', async () => {
    const owner = await register('kn-long');
    // BMP characters of 1 to 3 UTF-8 bytes: about 1.9 MB of JSON for 1.5M characters.
    const text = 'Kyro straße 東京 knowledge ✓. '.repeat(60_000).slice(0, 1_500_000);
    const bodyBytes = new TextEncoder().encode(JSON.stringify({ type: 'text', title: 'Long', text })).length;
    expect(bodyBytes).toBeGreaterThan(1024 * 1024);

    const created = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'text', title: 'Long', text } });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(202);
    const docs = await call('GET', `/api/v1/sources/${created.body.id}/documents`, { token: owner.token });
    expect(docs.body.data).toHaveLength(1);
    expect(docs.body.data[0].sizeBytes).toBe(new TextEncoder().encode(text).length);

    // The larger limit belongs to source creation only: search still refuses a body over 1 MiB.
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: text } }), 413, 'payload_too_large');

    // Stop the indexing of this large text: the test only needed it accepted.
    expect((await call('DELETE', `/api/v1/sources/${created.body.id}`, { token: owner.token })).status).toBe(204);
    await waitForPurge(created.body.id, 60_000);
  }, 90_000);

  it('refuses text over 2,000,000 characters (400 naming the field) and bodies over the source limit (413), storing nothing', async () => {
    const owner = await register('kn-too-long');
    const path = `/api/v1/bots/${owner.botId}/sources`;
    const tooLong = expectProblem(await call('POST', path, { token: owner.token, body: { type: 'text', title: 'Too long', text: 'a'.repeat(2_000_001) } }), 400, 'validation_failed');
    expect(tooLong.errors.map((e: { path: string }) => e.path)).toEqual(['text']);
    // The worst encoding (every character a 6-byte \u0000 escape, 12 MB) still reaches validation.
    const escaped = await call('POST', path, { token: owner.token, body: { type: 'text', title: 'Escaped', text: '\u0000'.repeat(2_000_000) + 'x' } });
    expect(escaped.status).not.toBe(413);
    expectProblem(escaped, 400, 'validation_failed');
    const huge = `{"type":"text","title":"Huge","text":"${'b'.repeat(SOURCE_CREATE_MAX_BODY_BYTES)}"}`;
    expectProblem(await call('POST', path, { token: owner.token, body: huge }), 413, 'payload_too_large');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);
  });

  it('refuses URLs the egress policy refuses with 422 egress_refused, storing nothing', async () => {
    const owner = await register('kn-egress');
    const add = (body: Record<string, unknown>) => call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body });
    const hex = expectProblem(await add({ type: 'website', url: 'http://0x7f.1/' }), 422, 'egress_refused');
    expect(hex.errors).toEqual([{ path: 'url', message: '127.0.0.1 is a loopback address.', code: 'special_address' }]);
    expectProblem(await add({ type: 'url', url: 'http://127.0.0.1/admin' }), 422, 'egress_refused');
    expectProblem(await add({ type: 'url', url: 'http://localhost./' }), 422, 'egress_refused');
    expectProblem(await add({ type: 'website', url: 'http://[::ffff:a9fe:a9fe]/' }), 422, 'egress_refused');
    expectProblem(await add({ type: 'url', url: 'https://user:pw@docs.example.com/' }), 422, 'egress_refused');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);
    // Another org's bot: 404 before the URL is even looked at.
    const stranger = await register('kn-egress-stranger');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: stranger.token, body: { type: 'website', url: 'http://0x7f.1/' } }), 404);
  });

  it('delete leaves no chunk, FTS row, vector or R2 object behind', async () => {
    const owner = await register('kn-del');
    const created = await addText(owner.token, owner.botId, 'Handbook', GUIDE);
    await waitForSource(owner.token, created.id);
    const chunkIds = (await env.DB.prepare('SELECT id FROM chunks WHERE source_id = ?').bind(created.id).all<{ id: string }>()).results.map((r) => r.id);
    expect(chunkIds.length).toBeGreaterThan(0);
    const vectors = createVectorIndex(env, 'local', { dimensions: 384, indexName: 'kyrochat-chunks-384' });
    expect((await vectors.getByIds(chunkIds)).length).toBe(chunkIds.length);

    expect((await call('DELETE', `/api/v1/sources/${created.id}`, { token: owner.token })).status).toBe(204);
    expectProblem(await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token }), 404, 'source_not_found');
    expect(await searchBot(owner.token, owner.botId, 'daemon port 7421', { mode: 'keyword' })).toEqual([]);
    await waitForPurge(created.id);

    expect(await countRows('SELECT count(*) AS n FROM chunks WHERE source_id = ?', created.id)).toBe(0);
    expect(await countRows('SELECT count(*) AS n FROM documents WHERE source_id = ?', created.id)).toBe(0);
    expect(await countRows(`SELECT count(*) AS n FROM chunks_fts WHERE chunks_fts MATCH ?`, `bot_id : "${owner.botId}" AND 7421`)).toBe(0);
    expect(await vectors.getByIds(chunkIds)).toEqual([]);
    const objects = await env.FILES.list({ prefix: `orgs/${owner.orgId}/bots/${owner.botId}/sources/${created.id}/` });
    expect(objects.objects).toEqual([]);
  });

  it('re-delivered index jobs never duplicate chunks or vectors', async () => {
    const owner = await register('kn-idem');
    const created = await addText(owner.token, owner.botId, 'Handbook', GUIDE);
    const ready = await waitForSource(owner.token, created.id);
    const doc = await env.DB.prepare('SELECT id FROM documents WHERE source_id = ?').bind(created.id).first<{ id: string }>();
    const message = { type: 'document.index', orgId: owner.orgId, documentId: doc!.id, offset: 0, force: true };
    const batch = createMessageBatch('kyrochat-jobs', [
      { id: 'm1', timestamp: new Date(), attempts: 1, body: message },
      { id: 'm2', timestamp: new Date(), attempts: 2, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(['m1', 'm2']);
    expect(await countRows('SELECT count(*) AS n FROM chunks WHERE source_id = ?', created.id)).toBe(ready.chunks);
    expect(await countRows(`SELECT count(*) AS n FROM chunks_fts WHERE chunks_fts MATCH ?`, `bot_id : "${owner.botId}" AND 7421`)).toBe(1);
    const again = await waitForSource(owner.token, created.id);
    expect(again.chunks).toBe(ready.chunks);
  });

  it('records the reason when a job fails for good (dead-letter queue)', async () => {
    const owner = await register('kn-dlq');
    const created = await addText(owner.token, owner.botId, 'Handbook', GUIDE);
    await waitForSource(owner.token, created.id);
    const doc = await env.DB.prepare('SELECT id FROM documents WHERE source_id = ?').bind(created.id).first<{ id: string }>();
    // Where a job that keeps failing leaves them: the document and its source processing.
    await env.DB.batch([
      env.DB.prepare(`UPDATE documents SET status = 'processing', error = 'Embedding failed (server_error).' WHERE id = ?`).bind(doc!.id),
      env.DB.prepare(`UPDATE sources SET status = 'processing' WHERE id = ?`).bind(created.id),
    ]);
    const batch = createMessageBatch('kyrochat-jobs-dlq', [
      { id: 'd1', timestamp: new Date(), attempts: 6, body: { type: 'document.index', orgId: owner.orgId, documentId: doc!.id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['d1']);
    const failed = await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token });
    expect(failed.body.status).toBe('failed');
    expect(failed.body.error).toContain('Gave up after 6 attempts: Embedding failed (server_error).');
  });

  it('retries a transient failure with backoff instead of dropping it', async () => {
    const owner = await register('kn-retry');
    // The test site answers this page with a 503: a transient failure.
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: 'https://docs.acme.test/flaky' } });
    expect(res.status).toBe(202);
    const doc = await env.DB.prepare('SELECT id FROM documents WHERE source_id = ?').bind(res.body.id).first<{ id: string }>();
    const crawl = { type: 'page.crawl', orgId: owner.orgId, documentId: doc!.id, generation: 1 };
    // A batch that records what the consumer does with each message, delay included
    // (getQueueResult reports retries without their delay).
    const outcome: Record<string, string> = {};
    const message = (id: string, attempts: number, body: unknown): Message<unknown> => ({
      id,
      timestamp: new Date(),
      attempts,
      body,
      ack: () => void (outcome[id] = 'ack'),
      retry: (options?: QueueRetryOptions) => void (outcome[id] = `retry after ${options?.delaySeconds}s`),
    });
    const batch = {
      queue: 'kyrochat-jobs',
      messages: [
        ...[1, 2, 3, 4, 7].map((attempts) => message(`a${attempts}`, attempts, crawl)),
        message('gone', 2, { type: 'source.sync', orgId: owner.orgId, sourceId: 'src_does_not_exist' }),
        message('bad', 1, { type: 'no.such.job' }),
      ],
      ackAll: () => {},
      retryAll: () => {},
    } as unknown as MessageBatch<unknown>;
    await worker.queue(batch, env, createExecutionContext());
    // Each attempt waits twice as long as the one before, up to five minutes; an unknown
    // source is "gone" (acked); a malformed message is dropped with a log line.
    expect(outcome).toEqual({
      a1: 'retry after 5s',
      a2: 'retry after 10s',
      a3: 'retry after 20s',
      a4: 'retry after 40s',
      a7: 'retry after 300s',
      gone: 'ack',
      bad: 'ack',
    });
    // The reason is kept with the document while it waits for its next attempt.
    const failed = await env.DB.prepare('SELECT status, error FROM documents WHERE id = ?').bind(doc!.id).first<{ status: string; error: string }>();
    expect(failed!.status).toBe('pending');
    expect(failed!.error).toContain('503');
  });

  it('hybrid search at topK 50 reads back 100 candidates (D1 binds at most 100 parameters per statement)', async () => {
    const owner = await register('kn-top50');
    const pairs = Array.from({ length: 120 }, (_, i) => ({ question: `What does warranty plan ${i} cover?`, answer: `Warranty plan ${i} covers part number ${1000 + i}.` }));
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'qa', pairs } });
    expect(res.status).toBe(202);
    expect((await waitForSource(owner.token, res.body.id)).chunks).toBe(120);
    const results = await searchBot(owner.token, owner.botId, 'which warranty plan covers this part', { mode: 'hybrid', topK: 50 });
    expect(results).toHaveLength(50);
    expect(new Set(results.map((r) => r.chunkId)).size).toBe(50);
  });

  it('lists 100 sources on a page and the rest on the next (progress is looked up within D1\'s parameter limit)', async () => {
    const owner = await register('kn-list100');
    const stranger = await register('kn-list100-b');
    const now = Date.now();
    const ids = Array.from({ length: 101 }, () => newId('src'));
    await env.DB.batch(
      ids.map((id) =>
        env.DB.prepare(
          `INSERT INTO sources (id, org_id, bot_id, type, title, config, status, schedule, generation, created_at, updated_at)
           VALUES (?, ?, ?, 'text', ?, '{}', 'ready', 'none', 1, ?, ?)`,
        ).bind(id, owner.orgId, owner.botId, `Source ${id}`, now, now),
      ),
    );
    const first = await call('GET', `/api/v1/bots/${owner.botId}/sources?limit=100`, { token: owner.token });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.data).toHaveLength(100);
    expect(first.body.data[0].progress).toEqual({ done: 0, total: 0, failed: 0 });
    const second = await call('GET', `/api/v1/bots/${owner.botId}/sources?limit=100&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(second.body.data).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    expect([...first.body.data, ...second.body.data].map((s: { id: string }) => s.id).sort()).toEqual([...ids].sort());
    expectProblem(await call('GET', `/api/v1/bots/${owner.botId}/sources?limit=100`, { token: stranger.token }), 404, 'bot_not_found');
  });

  it("search uses the bot's topK, minScore and hybrid setting when the request omits them", async () => {
    const owner = await register('kn-bot-defaults');
    const pairs = ['daemon', 'port', 'billing', 'sessions', 'refunds'].map((topic) => ({ question: `What about the ${topic}?`, answer: `The ${topic} answer.` }));
    const created = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'qa', pairs } });
    expect((await waitForSource(owner.token, created.body.id)).chunks).toBe(5);
    const patched = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { topK: 1, hybrid: false, minScore: 0 } } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);

    const byBot = await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'daemon port billing sessions' } });
    expect(byBot.status).toBe(200);
    expect(byBot.body.mode).toBe('vector');
    expect(byBot.body.results).toHaveLength(1);
    expect(byBot.body.results[0].ranks.keyword).toBeUndefined();
    // The request's own values win.
    const byRequest = await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'daemon port billing sessions', topK: 3, mode: 'hybrid' } });
    expect(byRequest.body.mode).toBe('hybrid');
    expect(byRequest.body.results).toHaveLength(3);

    // minScore is a floor on the calibrated relevance (0..1), in every mode: each chunk covers
    // one of the query's four topics, so none comes near 0.99, by vector or by keyword.
    await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { minScore: 0.99 } } });
    expect(await searchBot(owner.token, owner.botId, 'daemon port billing sessions')).toEqual([]);
    expect(await searchBot(owner.token, owner.botId, 'daemon port billing sessions', { mode: 'keyword' })).toEqual([]);
    // The request's minScore overrides the bot's.
    expect(await searchBot(owner.token, owner.botId, 'daemon port billing sessions', { minScore: 0 })).toHaveLength(1);
    // A floor between the relevances keeps exactly the hits above it: only the daemon chunk
    // covers a question about the daemon.
    const floored = await searchBot(owner.token, owner.botId, 'daemon', { minScore: 0.5, topK: 5, mode: 'hybrid' });
    expect(floored).toHaveLength(1);
    expect(floored[0]!.text).toContain('daemon');
    const unfloored = await searchBot(owner.token, owner.botId, 'daemon', { minScore: 0, topK: 5, mode: 'hybrid' });
    expect(unfloored.length).toBeGreaterThan(1);
    for (const hit of unfloored) expect(hit.relevance >= 0.5, hit.text).toBe(hit.text.includes('daemon'));
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'daemon', minScore: 2 } }), 400, 'validation_failed');
  });

  it('another org cannot see, search, sync, download or delete these sources (404)', async () => {
    const a = await register('kn-a');
    const b = await register('kn-b');
    const created = await addText(a.token, a.botId, 'Handbook', GUIDE);
    await waitForSource(a.token, created.id);
    const doc = await env.DB.prepare('SELECT id FROM documents WHERE source_id = ?').bind(created.id).first<{ id: string }>();
    const bKey = await createKey(b, ['admin']);
    for (const token of [b.token, bKey]) {
      expectProblem(await call('GET', `/api/v1/sources/${created.id}`, { token }), 404);
      expectProblem(await call('GET', `/api/v1/sources/${created.id}/documents`, { token }), 404);
      expectProblem(await call('PATCH', `/api/v1/sources/${created.id}`, { token, body: { schedule: 'daily' } }), 404);
      expectProblem(await call('POST', `/api/v1/sources/${created.id}/sync`, { token }), 404);
      expectProblem(await call('DELETE', `/api/v1/sources/${created.id}`, { token }), 404);
      expectProblem(await call('GET', `/api/v1/documents/${doc!.id}`, { token }), 404);
      expectProblem(await call('GET', `/api/v1/documents/${doc!.id}/download`, { token }), 404);
      expectProblem(await call('GET', `/api/v1/bots/${a.botId}/sources`, { token }), 404, 'bot_not_found');
      expectProblem(await call('POST', `/api/v1/bots/${a.botId}/search`, { token, body: { query: 'daemon' } }), 404, 'bot_not_found');
      expectProblem(await call('POST', `/api/v1/bots/${a.botId}/sources`, { token, body: { type: 'text', title: 'x', text: 'y' } }), 404, 'bot_not_found');
    }
    // B's own bot never returns A's chunks.
    expect(await searchBot(b.token, b.botId, 'daemon port 7421')).toEqual([]);
  });

  it('lets viewers read and search but not write; scoped keys need sources scopes', async () => {
    const owner = await register('kn-roles');
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'kn-viewer');
    const asViewer = { token: viewer.token, orgId: owner.orgId };
    const readKey = await createKey(owner, ['sources:read']);
    const botsKey = await createKey(owner, ['bots:read']);
    const created = await addText(owner.token, owner.botId, 'Handbook', GUIDE);
    await waitForSource(owner.token, created.id);

    // A viewer (a person, not a key) reads and searches...
    expect((await call('GET', `/api/v1/sources/${created.id}`, asViewer)).body).toMatchObject({ id: created.id, status: 'ready' });
    expect((await call('GET', `/api/v1/bots/${owner.botId}/sources`, asViewer)).body.data.map((x: { id: string }) => x.id)).toEqual([created.id]);
    const found = await call('POST', `/api/v1/bots/${owner.botId}/search`, { ...asViewer, body: { query: 'which port does the daemon listen on' } });
    expect(found.status).toBe(200);
    expect(found.body.results[0].text).toContain('7421');
    // ...but cannot add, re-sync or delete, and a refusal leaves the source as it was.
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { ...asViewer, body: { type: 'text', title: 'x', text: 'nope' } }), 403, 'forbidden');
    expectProblem(await call('POST', `/api/v1/sources/${created.id}/sync`, asViewer), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/sources/${created.id}`, asViewer), 403, 'forbidden');
    expect((await call('GET', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token })).body.data).toHaveLength(1);
    expect((await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token })).body.status).toBe('ready');

    expect((await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: readKey, body: { query: 'billing' } })).status).toBe(200);
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: readKey, body: { type: 'text', title: 'x', text: 'nope' } }), 403);
    expectProblem(await call('GET', `/api/v1/sources/${created.id}`, { token: botsKey }), 403);
  });
});
