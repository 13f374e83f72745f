/**
 * Per-org model provider settings. The org's own provider keys are encrypted at rest
 * (AES-GCM under ENCRYPTION_KEY, key id recorded for rotation) and only ever shown masked:
 * not in responses, not in the database row, not in the audit trail.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register } from '../support/api';
import { joinAs } from '../support/accounts';
import { parseConfig } from '../../src/env';
import { createDb } from '../../src/db/client';
import { systemClock } from '../../src/lib/clock';
import { resolveProviderSettings } from '../../src/features/settings/service';

const RAW_SECRET = 'sk-live-0123456789abcdefSECRETwxyz';

function serviceContext() {
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return {
    db: createDb(env.DB),
    config: parsed.config,
    env,
    clock: systemClock,
    meta: { ip: null, userAgent: null },
    waitUntil: () => undefined,
  };
}

describe('org settings', () => {
  it('start with the offline provider and no secrets', async () => {
    const owner = await register('settings-fresh');
    const res = await call('GET', '/api/v1/settings', { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ provider: 'offline', baseUrl: null, chatModel: null, embeddingModel: null, secrets: {} });
  });

  it('change provider fields; absent fields stay, null clears', async () => {
    const owner = await register('settings-fields');
    const first = await call('PATCH', '/api/v1/settings', {
      token: owner.token,
      body: { provider: 'openai-compatible', baseUrl: 'http://localhost:11434/v1', chatModel: 'llama3', embeddingModel: 'nomic-embed-text', embeddingDimensions: 768 },
    });
    expect(first.status).toBe(200);
    const second = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { chatModel: null } });
    expect(second.body).toMatchObject({
      provider: 'openai-compatible',
      baseUrl: 'http://localhost:11434/v1',
      chatModel: null,
      embeddingModel: 'nomic-embed-text',
      embeddingDimensions: 768,
    });
    expect((await call('GET', '/api/v1/settings', { token: owner.token })).body).toEqual(second.body);
  });

  it('refuse a base URL the egress policy refuses (422 egress_refused) and store nothing', async () => {
    const owner = await register('settings-egress');
    for (const baseUrl of ['http://169.254.169.254/v1', 'http://localhost./v1', 'http://[::ffff:7f00:1]:11434/v1', 'https://key:secret@api.example.com/v1']) {
      const res = expectProblem(await call('PATCH', '/api/v1/settings', { token: owner.token, body: { provider: 'openai-compatible', baseUrl } }), 422, 'egress_refused');
      expect(res.errors, baseUrl).toEqual([{ path: 'baseUrl', message: res.detail, code: expect.any(String) }]);
    }
    const metadata = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { baseUrl: 'http://169.254.169.254/v1' } });
    expect(metadata.body.detail).toBe('169.254.169.254 is a link-local address.');
    expect((await call('GET', '/api/v1/settings', { token: owner.token })).body).toMatchObject({ provider: 'offline', baseUrl: null });
    // The operator allowlist (EGRESS_ALLOW_HOSTS=localhost:11434 in tests) admits that host and port only.
    expect((await call('PATCH', '/api/v1/settings', { token: owner.token, body: { baseUrl: 'http://localhost:11434/v1' } })).status).toBe(200);
    expectProblem(await call('PATCH', '/api/v1/settings', { token: owner.token, body: { baseUrl: 'http://localhost:8080/v1' } }), 422, 'egress_refused');
    // Another org's id in X-Org-Id: 404, whatever the URL.
    const stranger = await register('settings-egress-stranger');
    expectProblem(await call('PATCH', '/api/v1/settings', { token: stranger.token, orgId: owner.orgId, body: { baseUrl: 'https://api.example.com/v1' } }), 404);
  });

  it('validate every field', async () => {
    const owner = await register('settings-bad');
    const res = expectProblem(
      await call('PATCH', '/api/v1/settings', {
        token: owner.token,
        body: { provider: 'skynet', baseUrl: 'ftp://example.com', embeddingDimensions: 3, secrets: { 'Bad Name': 'x' } },
      }),
      400,
      'validation_failed',
    );
    const paths = res.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['provider', 'baseUrl', 'embeddingDimensions']));
    expect(paths.some((p: string) => p.startsWith('secrets'))).toBe(true);
    expectProblem(await call('PATCH', '/api/v1/settings', { token: owner.token, body: { unknownField: 1 } }), 400, 'validation_failed');
  });
});

describe('provider secrets', () => {
  it('are returned masked, with the key id that encrypted them', async () => {
    const owner = await register('secrets');
    const res = await call('PATCH', '/api/v1/settings', {
      token: owner.token,
      body: { provider: 'openai', secrets: { openai_api_key: RAW_SECRET, short_one: 'abc123' } },
    });
    expect(res.status).toBe(200);
    expect(res.body.secrets).toEqual({
      openai_api_key: { value: 'sk-…wxyz', keyId: env.ENCRYPTION_KEY_ID, updatedAt: expect.any(String) },
      short_one: { value: '••••••', keyId: env.ENCRYPTION_KEY_ID, updatedAt: expect.any(String) },
    });
    const read = await call('GET', '/api/v1/settings', { token: owner.token });
    expect(read.body.secrets).toEqual(res.body.secrets);
    for (const body of [res.body, read.body]) {
      expect(JSON.stringify(body)).not.toContain(RAW_SECRET);
      expect(JSON.stringify(body)).not.toContain('abc123');
    }
  });

  it('are stored encrypted: the raw secret is nowhere in the database row, yet the server can decrypt it', async () => {
    const owner = await register('secrets-at-rest');
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { openai_api_key: RAW_SECRET } } });

    const row = await env.DB.prepare('SELECT * FROM org_settings WHERE org_id = ?').bind(owner.orgId).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(RAW_SECRET);
    expect(JSON.stringify(row)).not.toContain(btoa(RAW_SECRET));
    const stored = JSON.parse(row!.secrets as string).openai_api_key;
    expect(stored).toMatchObject({ kid: env.ENCRYPTION_KEY_ID, iv: expect.any(String), ct: expect.any(String) });

    const resolved = await resolveProviderSettings(serviceContext(), owner.orgId);
    expect(resolved.secrets).toEqual({ openai_api_key: RAW_SECRET });
  });

  it('are bound to their org: a ciphertext copied into another org does not decrypt', async () => {
    const victim = await register('secrets-victim');
    const thief = await register('secrets-thief');
    await call('PATCH', '/api/v1/settings', { token: victim.token, body: { secrets: { openai_api_key: RAW_SECRET } } });
    const row = await env.DB.prepare('SELECT secrets FROM org_settings WHERE org_id = ?').bind(victim.orgId).first<{ secrets: string }>();
    await env.DB.prepare('UPDATE org_settings SET secrets = ? WHERE org_id = ?').bind(row!.secrets, thief.orgId).run();
    await expect(resolveProviderSettings(serviceContext(), thief.orgId)).rejects.toThrow();
  });

  it('are replaced by a new value and deleted by null, leaving the others alone', async () => {
    const owner = await register('secrets-null');
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { openai_api_key: RAW_SECRET, other_key: 'other-secret-value-1234' } } });
    const replaced = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { openai_api_key: 'sk-replacement-key-9876' } } });
    expect(replaced.body.secrets.openai_api_key.value).toBe('sk-…9876');
    expect(replaced.body.secrets.other_key.value).toBe('other-…1234');

    const deleted = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { openai_api_key: null } } });
    expect(Object.keys(deleted.body.secrets)).toEqual(['other_key']);
    const row = await env.DB.prepare('SELECT secrets FROM org_settings WHERE org_id = ?').bind(owner.orgId).first<{ secrets: string }>();
    expect(Object.keys(JSON.parse(row!.secrets))).toEqual(['other_key']);
    // Other fields are untouched by a secrets-only change.
    expect(deleted.body.provider).toBe('offline');
  });

  it('change per name: concurrent changes of different secrets both survive', async () => {
    const owner = await register('secrets-race');
    for (let round = 0; round < 5; round++) {
      const [a, b] = [`first-secret-value-${round}000`, `second-secret-value-${round}111`];
      const results = await Promise.all([
        call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { first_key: a } } }),
        call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { second_key: b } } }),
      ]);
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      const resolved = await resolveProviderSettings(serviceContext(), owner.orgId);
      expect(resolved.secrets).toEqual({ first_key: a, second_key: b });
    }
  });

  it('and provider fields and secrets changed by two concurrent PATCHes all survive', async () => {
    const owner = await register('settings-race');
    for (let round = 0; round < 5; round++) {
      const [chatModel, embeddingModel] = [`chat-${round}`, `embed-${round}`];
      const [first, second] = [`first-concurrent-${round}abcd`, `second-concurrent-${round}efgh`];
      await Promise.all([
        call('PATCH', '/api/v1/settings', { token: owner.token, body: { chatModel, secrets: { first_key: first } } }),
        call('PATCH', '/api/v1/settings', { token: owner.token, body: { embeddingModel, secrets: { second_key: second } } }),
      ]);
      const resolved = await resolveProviderSettings(serviceContext(), owner.orgId);
      expect(resolved).toMatchObject({ chatModel, embeddingModel, secrets: { first_key: first, second_key: second } });
    }
  });

  it('and the reranker with its key, changed beside provider fields by concurrent PATCHes, all survive', async () => {
    const owner = await register('settings-rerank-race');
    for (let round = 0; round < 3; round++) {
      const reranker = { url: 'https://rerank.example.com/v1/rerank', model: `rerank-${round}`, topN: 10 + round };
      const [chatModel, key] = [`chat-${round}`, `rerank-key-${round}-abcdefgh`];
      await Promise.all([
        call('PATCH', '/api/v1/settings', { token: owner.token, body: { reranker, secrets: { rerank_api_key: key } } }),
        call('PATCH', '/api/v1/settings', { token: owner.token, body: { chatModel } }),
      ]);
      const resolved = await resolveProviderSettings(serviceContext(), owner.orgId);
      expect(resolved).toMatchObject({ chatModel, reranker, secrets: { rerank_api_key: key } });
    }
    // Leaving the reranker out keeps it; null removes it.
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { chatModel: 'other' } });
    expect((await call('GET', '/api/v1/settings', { token: owner.token })).body.reranker).toMatchObject({ model: 'rerank-2' });
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { reranker: null } });
    expect((await call('GET', '/api/v1/settings', { token: owner.token })).body.reranker).toBeNull();
  });

  it('never reach the audit trail', async () => {
    const owner = await register('secrets-audit');
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { provider: 'openai', secrets: { openai_api_key: RAW_SECRET } } });

    const activity = await call('GET', '/api/v1/activity?action=settings.update', { token: owner.token });
    expect(activity.body.data).toHaveLength(1);
    expect(activity.body.data[0].metadata).toEqual({ fields: ['provider', 'secrets.openai_api_key'] });
    expect(JSON.stringify(activity.body)).not.toContain(RAW_SECRET);

    const { results } = await env.DB.prepare('SELECT * FROM audit_events WHERE org_id = ?').bind(owner.orgId).all();
    expect(JSON.stringify(results)).not.toContain(RAW_SECRET);
    expect(JSON.stringify(results)).not.toContain('sk-…wxyz');
  });

  it('can be read (masked) by every role but changed only by an owner', async () => {
    const owner = await register('secrets-roles');
    await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { openai_api_key: RAW_SECRET } } });
    const admin = await joinAs(owner, owner.orgId, 'admin', 'secrets-admin');
    const read = await call('GET', '/api/v1/settings', { token: admin.token, orgId: owner.orgId });
    expect(read.body.secrets.openai_api_key.value).toBe('sk-…wxyz');
    expectProblem(
      await call('PATCH', '/api/v1/settings', { token: admin.token, orgId: owner.orgId, body: { secrets: { openai_api_key: null } } }),
      403,
      'forbidden',
    );
    // A key needs the admin scope even to read.
    const reader = await createKey(owner, ['bots:read']);
    expectProblem(await call('GET', '/api/v1/settings', { token: reader }), 403, 'forbidden');
  });
});
