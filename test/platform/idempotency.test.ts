/**
 * Idempotency-Key on the POSTs that create things: bots, API keys, JSON sources and file
 * uploads. A retry returns the first answer; a reused key with another body is a 422.
 */
import { SELF, env, createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import { BASE, call, expectProblem, register, type Account } from '../support/api';
import { countRows } from '../support/knowledge';
import { fingerprintRequest } from '../../src/features/idempotency/service';

const withKey = (key: string) => ({ 'idempotency-key': key });

async function createBot(owner: Account, body: unknown, key?: string, token = owner.token) {
  return call('POST', '/api/v1/bots', { token, body, headers: key === undefined ? {} : withKey(key) });
}

async function upload(owner: Account, files: { name: string; text: string }[], key: string) {
  const form = new FormData();
  for (const f of files) form.append('file', new File([f.text], f.name, { type: 'text/plain' }));
  const res = await SELF.fetch(`${BASE}/api/v1/bots/${owner.botId}/sources/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.token}`, ...withKey(key) },
    body: form,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const botsOf = (orgId: string) => countRows('SELECT count(*) AS n FROM bots WHERE org_id = ?', orgId);

describe('Idempotency-Key', () => {
  it('replays the first bot for a retry with the same key and body, marked Idempotent-Replayed, and creates one bot', async () => {
    const owner = await register('idem-bot');
    const before = await botsOf(owner.orgId);

    const first = await createBot(owner, { name: 'Support' }, 'retry-1');
    const second = await createBot(owner, { name: 'Support' }, 'retry-1');

    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    expect(first.headers.get('etag')).toBeTruthy();
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(second.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await botsOf(owner.orgId)).toBe(before + 1);
  });

  it('treats JSON with other key order and whitespace as the same request', async () => {
    const owner = await register('idem-canon');
    const first = await createBot(owner, { name: 'Canon', description: 'd' }, 'canon-1');
    const second = await createBot(owner, '{ "description" : "d",\n  "name": "Canon" }', 'canon-1');

    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
  });

  it('answers 422 idempotency_key_reused when the key comes back with another body, and creates nothing', async () => {
    const owner = await register('idem-reuse');
    await createBot(owner, { name: 'One' }, 'reuse-1');
    const before = await botsOf(owner.orgId);

    const reused = await createBot(owner, { name: 'Two' }, 'reuse-1');

    expectProblem(reused, 422, 'idempotency_key_reused');
    expect(await botsOf(owner.orgId)).toBe(before);
  });

  it('answers 409 idempotency_in_progress while the first request with the key is still running', async () => {
    const owner = await register('idem-inflight');
    const body = { name: 'In flight' };
    // The first request, caught between its claim and its answer.
    const fingerprint = await fingerprintRequest('POST', '/api/v1/bots', 'application/json', new TextEncoder().encode(JSON.stringify(body)));
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO idempotency_keys (org_id, actor_id, route, key, fingerprint, state, created_at, expires_at)
       VALUES (?, ?, 'POST /api/v1/bots', 'inflight-1', ?, 'in_progress', ?, ?)`,
    )
      .bind(owner.orgId, owner.userId, fingerprint, now, now + 60_000)
      .run();
    const before = await botsOf(owner.orgId);

    const res = await createBot(owner, body, 'inflight-1');

    expectProblem(res, 409, 'idempotency_in_progress');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await botsOf(owner.orgId)).toBe(before);
  });

  it('creates exactly one bot when the same request races itself', async () => {
    const owner = await register('idem-race');
    const before = await botsOf(owner.orgId);

    const results = await Promise.all(Array.from({ length: 6 }, () => createBot(owner, { name: 'Racer' }, 'race-1')));

    expect(results.every((r) => r.status === 201 || (r.status === 409 && r.body.code === 'idempotency_in_progress'))).toBe(true);
    const created = results.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect(await botsOf(owner.orgId)).toBe(before + 1);
  });

  it('rejects a key that is empty, longer than 255 characters or not printable ASCII with 400 invalid_idempotency_key', async () => {
    const owner = await register('idem-format');
    const before = await botsOf(owner.orgId);
    for (const key of ['', 'k'.repeat(256), 'clé-1']) {
      const res = await createBot(owner, { name: 'Format' }, key);
      expectProblem(res, 400, 'invalid_idempotency_key');
    }
    const longest = await createBot(owner, { name: 'Format' }, 'k'.repeat(255));
    expect(longest.status).toBe(201);
    expect(await botsOf(owner.orgId)).toBe(before + 1);
  });

  it('keeps the same key in another org independent', async () => {
    const a = await register('idem-org-a');
    const b = await register('idem-org-b');

    const inA = await createBot(a, { name: 'Shared key' }, 'shared-1');
    const inB = await createBot(b, { name: 'Shared key' }, 'shared-1');

    expect(inB.status).toBe(201);
    expect(inB.headers.get('idempotent-replayed')).toBeNull();
    expect(inB.body.orgId).toBe(b.orgId);
    expect(inB.body.id).not.toBe(inA.body.id);
    // And A's replay stays A's.
    const againInA = await createBot(a, { name: 'Shared key' }, 'shared-1');
    expect(againInA.body.id).toBe(inA.body.id);
  });

  it('replays a 4xx answer too: the same invalid request gets the same problem', async () => {
    const owner = await register('idem-4xx');
    const first = await createBot(owner, { name: '' }, 'bad-1');
    const second = await createBot(owner, { name: '' }, 'bad-1');

    expectProblem(first, 400, 'validation_failed');
    expectProblem(second, 400, 'validation_failed');
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.errors).toEqual(first.body.errors);
  });

  it('does not keep a 5xx answer: the retry runs again and creates the source', async () => {
    const owner = await register('idem-5xx');
    const brokenFiles = { ...env.FILES, put: async () => { throw new Error('R2 is down'); } } as unknown as R2Bucket;
    const request = () =>
      new Request(`${BASE}/api/v1/bots/${owner.botId}/sources`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json', ...withKey('five-1') },
        body: JSON.stringify({ type: 'text', title: 'Retry me', text: 'Five hundreds are not remembered.' }),
      });
    const ctx = createExecutionContext();
    const failed = await worker.fetch(request() as Parameters<typeof worker.fetch>[0], { ...env, FILES: brokenFiles } as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    await failed.body?.cancel();

    const retried = await SELF.fetch(request());
    const body = (await retried.json()) as { id: string };
    expect(retried.status).toBe(202);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE id = ?', body.id)).toBe(1);
  });

  it('replays a retried text source instead of reporting the content as a duplicate', async () => {
    const owner = await register('idem-source');
    const body = { type: 'text', title: 'Opening hours', text: 'The shop opens at nine.' };
    const first = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body, headers: withKey('src-1') });
    const second = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body, headers: withKey('src-1') });

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE bot_id = ?', owner.botId)).toBe(1);
  });

  it('replays a retried file upload even though the retry has a new multipart boundary', async () => {
    const owner = await register('idem-upload');
    const files = [{ name: 'faq.txt', text: 'Parcels ship within two days.' }];
    const first = await upload(owner, files, 'upload-1');
    const second = await upload(owner, files, 'upload-1');

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.text).toBe(first.text);
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE bot_id = ?', owner.botId)).toBe(1);

    const otherFile = await upload(owner, [{ name: 'faq.txt', text: 'Parcels ship within three days.' }], 'upload-1');
    expect(otherFile.status).toBe(422);
    expect(JSON.parse(otherFile.text).code).toBe('idempotency_key_reused');
  });

  it('replays a created API key with its secret, and keeps that secret encrypted at rest', async () => {
    const owner = await register('idem-key');
    const body = { name: 'CI', scopes: ['bots:read'] };
    const first = await call('POST', '/api/v1/api-keys', { token: owner.token, body, headers: withKey('key-1') });
    const second = await call('POST', '/api/v1/api-keys', { token: owner.token, body, headers: withKey('key-1') });

    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(await countRows('SELECT count(*) AS n FROM api_keys WHERE org_id = ?', owner.orgId)).toBe(1);
    const stored = await env.DB.prepare('SELECT body FROM idempotency_keys WHERE org_id = ? AND key = ?').bind(owner.orgId, 'key-1').first<{ body: string }>();
    expect(stored?.body).toBeTruthy();
    expect(stored!.body).not.toContain(first.body.key);
  });
});
