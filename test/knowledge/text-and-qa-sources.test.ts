import { env, createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { createVectorIndex } from '../../src/vector/vector-index';
import { call, expectProblem, register, createKey } from '../support/api';
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
    expect(ready).toMatchObject({ status: 'ready', error: null, progress: { done: 1, total: 1, failed: 0 } });
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
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: 'http://127.0.0.1/admin' } }), 400, 'validation_failed');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: 'ftp://example.com/x' } }), 400, 'validation_failed');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'podcast' } }), 400, 'validation_failed');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);
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
    await env.DB.prepare(`UPDATE documents SET status = 'processing', error = 'Embedding failed (server_error).' WHERE id = ?`).bind(doc!.id).run();
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
    const batch = createMessageBatch('kyrochat-jobs', [
      { id: 'r1', timestamp: new Date(), attempts: 2, body: { type: 'source.sync', orgId: owner.orgId, sourceId: 'src_does_not_exist' } },
      { id: 'bad', timestamp: new Date(), attempts: 1, body: { type: 'no.such.job' } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    // An unknown source is "gone" (acked); a malformed message is dropped with a log line.
    expect(result.explicitAcks.sort()).toEqual(['bad', 'r1']);
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
