/**
 * An org's embedding provider, the vector index and stored secrets failing: search answers a
 * 502/503 problem with a specific code (never a 500), and ingestion records the reason on the
 * document. The provider is a fake OpenAI-compatible endpoint on the test site
 * (test/fixtures/site/worker.js), reached through the egress guard like production traffic.
 */
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, expectProblem, register, type Account } from '../support/api';
import { addText, waitForSource } from '../support/knowledge';
import { parseConfig } from '../../src/env';
import { createDb } from '../../src/db/client';
import { systemClock } from '../../src/lib/clock';
import { search } from '../../src/features/knowledge/search';
import { upstreamProblem } from '../../src/http/upstream-problems';
import { VectorIndexUnavailableError } from '../../src/vector/vector-index';
import { EmbeddingError } from '../../src/ai/embedder';

const SITE = 'https://llm.acme.test';
const PROVIDER_KEY = 'sk-test-provider-key-0123456789';

async function site(body: Record<string, unknown>) {
  await (await env.WEB_FETCHER!.fetch(`${SITE}/__control`, { method: 'POST', body: JSON.stringify(body) })).json();
}
const embeddingCalls = async () => ((await (await env.WEB_FETCHER!.fetch(`${SITE}/__hits`)).json()) as Record<string, number>)['/v1/embeddings'] ?? 0;

async function useFakeProvider(owner: Account) {
  const res = await call('PATCH', '/api/v1/settings', {
    token: owner.token,
    body: { provider: 'openai-compatible', baseUrl: `${SITE}/v1`, embeddingModel: 'text-embedding-3-small', embeddingDimensions: 8, secrets: { api_key: PROVIDER_KEY } },
  });
  expect(res.status).toBe(200);
}

const searchVector = (owner: Account, botId = owner.botId) =>
  call('POST', `/api/v1/bots/${botId}/search`, { token: owner.token, body: { query: 'refund policy', mode: 'vector' } });

async function documentsOf(owner: Account, sourceId: string) {
  return (await call('GET', `/api/v1/sources/${sourceId}/documents`, { token: owner.token })).body.data as { status: string; error: string | null }[];
}

describe('search when the embedding provider fails', () => {
  beforeEach(() => site({ reset: true }));

  it('sends the query to the provider through the egress guard, with the org key', async () => {
    const owner = await register('prov-ok');
    await useFakeProvider(owner);
    const res = await searchVector(owner);
    expect(res.status).toBe(200);
    expect(await embeddingCalls()).toBe(1);
    const last = await (await env.WEB_FETCHER!.fetch(`${SITE}/__last-authorization`)).json();
    expect(last).toEqual({ authorization: `Bearer ${PROVIDER_KEY}` });
  });

  it('answers 502 embedding_provider_failed when the provider rejects the key (401), in vector and hybrid mode', async () => {
    const owner = await register('prov-401');
    await useFakeProvider(owner);
    await site({ embeddings: 401 });
    const vector = expectProblem(await searchVector(owner), 502, 'embedding_provider_failed');
    expect(vector.reason).toBe('unauthorized');
    expect(vector.detail).toBe('The embedding provider rejected the API key in settings.');
    expect(JSON.stringify(vector)).not.toContain('fake provider failure');
    const hybrid = await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'refund policy' } });
    expectProblem(hybrid, 502, 'embedding_provider_failed');
    // Keyword search does not need the provider.
    expect((await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'refund', mode: 'keyword' } })).status).toBe(200);
  });

  it('answers 502 embedding_provider_failed with reason server_error when the provider is down (after its retries)', async () => {
    const owner = await register('prov-500');
    await useFakeProvider(owner);
    await site({ embeddings: 500 });
    const problem = expectProblem(await searchVector(owner), 502, 'embedding_provider_failed');
    expect(problem.reason).toBe('server_error');
    expect(await embeddingCalls()).toBe(4);
  });

  it('answers 503 secret_undecryptable when the provider key was encrypted under a key id that is no longer configured', async () => {
    const owner = await register('prov-kid');
    await useFakeProvider(owner);
    const row = await env.DB.prepare('SELECT secrets FROM org_settings WHERE org_id = ?').bind(owner.orgId).first<{ secrets: string }>();
    const secrets = JSON.parse(row!.secrets);
    secrets.api_key.kid = 'retired-key';
    await env.DB.prepare('UPDATE org_settings SET secrets = ? WHERE org_id = ?').bind(JSON.stringify(secrets), owner.orgId).run();

    const problem = expectProblem(await searchVector(owner), 503, 'secret_undecryptable');
    expect(problem.detail).toContain('"api_key"');
    expect(await embeddingCalls()).toBe(0);
  });

  it('decrypts only the keys search uses: an unrelated secret that no longer opens does not break an offline search', async () => {
    const owner = await register('prov-unrelated');
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { unrelated_key: 'unrelated-secret-value-1234' } } });
    const row = await env.DB.prepare('SELECT secrets FROM org_settings WHERE org_id = ?').bind(owner.orgId).first<{ secrets: string }>();
    const secrets = JSON.parse(row!.secrets);
    secrets.unrelated_key.kid = 'retired-key';
    await env.DB.prepare('UPDATE org_settings SET secrets = ? WHERE org_id = ?').bind(JSON.stringify(secrets), owner.orgId).run();

    expect((await searchVector(owner)).status).toBe(200);
  });

  it("answers 404 for another org's bot, before any provider call", async () => {
    const owner = await register('prov-owner');
    const stranger = await register('prov-stranger');
    await useFakeProvider(stranger);
    expectProblem(await searchVector(stranger, owner.botId), 404);
    expect(await embeddingCalls()).toBe(0);
  });

  it('answers 503 vector_index_unavailable when the vector index cannot be reached', async () => {
    const owner = await register('prov-vectors');
    const parsed = parseConfig(env);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const unreachable = {
      idFromName: () => ({}),
      get: () => ({ fetch: () => Promise.reject(new Error('Durable Object reset')) }),
    } as unknown as DurableObjectNamespace;
    const ctx = {
      db: createDb(env.DB),
      config: parsed.config,
      env: { ...env, VECTOR_STORE: unreachable },
      clock: systemClock,
      meta: { ip: null, userAgent: null },
      waitUntil: () => undefined,
    };
    const failure = await search(ctx, { orgId: owner.orgId, botId: owner.botId, query: 'refund policy', topK: 5, mode: 'vector', minScore: 0 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(VectorIndexUnavailableError);
    expect(upstreamProblem(failure)?.init).toMatchObject({ status: 503, code: 'vector_index_unavailable' });
  });

  it('maps a provider rate limit to 503 with Retry-After, and anything unknown to no upstream problem', () => {
    const limited = upstreamProblem(new EmbeddingError('rate_limited', 'slow down', { retryAfterMs: 30_000 }));
    expect(limited?.init).toMatchObject({ status: 503, code: 'embedding_provider_rate_limited', headers: { 'retry-after': '30' } });
    expect(upstreamProblem(new Error('boom'))).toBeNull();
  });
});

describe('ingestion when the embedding provider fails', () => {
  beforeEach(() => site({ reset: true }));

  it('fails the document with a clear permanent reason, without any request, when a stored base URL is refused by the egress policy', async () => {
    const owner = await register('prov-stored-url');
    await useFakeProvider(owner);
    // Saved before the egress guard existed: the API would refuse it now.
    await env.DB.prepare('UPDATE org_settings SET base_url = ? WHERE org_id = ?').bind('http://169.254.169.254/v1', owner.orgId).run();

    const created = await addText(owner.token, owner.botId, 'Refunds', 'Refunds are processed within fourteen days of the request.');
    const source = await waitForSource(owner.token, created.id);
    expect(source.status).toBe('failed');
    const [doc] = await documentsOf(owner, created.id);
    expect(doc!.status).toBe('failed');
    expect(doc!.error).toContain('egress_refused');
    expect(doc!.error).toContain('169.254.169.254 is a link-local address');
    expect(await embeddingCalls()).toBe(0);
  });

  it('records a rejected key (401) as the permanent failure reason of the document', async () => {
    const owner = await register('prov-ingest-401');
    await useFakeProvider(owner);
    await site({ embeddings: 401 });
    const created = await addText(owner.token, owner.botId, 'Refunds', 'Refunds are processed within fourteen days of the request.');
    const source = await waitForSource(owner.token, created.id);
    expect(source.status).toBe('failed');
    const [doc] = await documentsOf(owner, created.id);
    expect(doc).toMatchObject({ status: 'failed', error: 'Embedding failed (unauthorized).' });
    expect(await embeddingCalls()).toBe(1);
  });

  it('records an undecryptable provider key as the permanent failure reason of the document', async () => {
    const owner = await register('prov-ingest-kid');
    await useFakeProvider(owner);
    const row = await env.DB.prepare('SELECT secrets FROM org_settings WHERE org_id = ?').bind(owner.orgId).first<{ secrets: string }>();
    const secrets = JSON.parse(row!.secrets);
    secrets.api_key.kid = 'retired-key';
    await env.DB.prepare('UPDATE org_settings SET secrets = ? WHERE org_id = ?').bind(JSON.stringify(secrets), owner.orgId).run();

    const created = await addText(owner.token, owner.botId, 'Refunds', 'Refunds are processed within fourteen days of the request.');
    const source = await waitForSource(owner.token, created.id);
    expect(source.status).toBe('failed');
    const [doc] = await documentsOf(owner, created.id);
    expect(doc).toMatchObject({ status: 'failed', error: 'The stored secret "api_key" cannot be decrypted; enter it again in settings.' });
  });
});
