import { env, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { call, expectProblem, register } from '../support/api';
import { addText, countRows, waitForPurge, waitForSource } from '../support/knowledge';

async function runCron(at = Date.now()) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/15 * * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe('scheduled re-sync and recovery by the cron trigger', () => {
  it('sets a schedule and re-syncs the source when it is due', async () => {
    const owner = await register('cron');
    const created = await addText(owner.token, owner.botId, 'Policy', 'Returns are accepted within thirty days of delivery.');
    const first = await waitForSource(owner.token, created.id);
    expect(first.schedule).toBe('none');
    expect(first.nextSyncAt).toBeNull();

    const patched = await call('PATCH', `/api/v1/sources/${created.id}`, { token: owner.token, body: { schedule: 'daily' } });
    expect(patched.status).toBe(200);
    expect(patched.body.schedule).toBe('daily');
    const next = Date.parse(patched.body.nextSyncAt);
    expect(next - Date.now()).toBeGreaterThan(23 * 3600_000);
    expectProblem(await call('PATCH', `/api/v1/sources/${created.id}`, { token: owner.token, body: { schedule: 'hourly' } }), 400, 'validation_failed');

    // Not due yet: the cron leaves it alone.
    await runCron();
    expect((await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token })).body.lastSyncedAt).toBe(first.lastSyncedAt);

    await runCron(next + 1000);
    const synced = await waitForSource(owner.token, created.id);
    expect(synced.status).toBe('ready');
    expect(Date.parse(synced.lastSyncedAt)).toBeGreaterThan(Date.parse(first.lastSyncedAt));
    expect(Date.parse(synced.nextSyncAt)).toBeGreaterThan(next);
    // Unchanged content was skipped: same chunk rows as before.
    expect(synced.chunks).toBe(first.chunks);
  });

  it('resumes a purge whose queue message was lost', async () => {
    const owner = await register('cron-purge');
    const created = await addText(owner.token, owner.botId, 'Policy', 'Gift cards never expire and can be used online.');
    await waitForSource(owner.token, created.id);
    // A deleted source whose purge job never ran (e.g. the enqueue failed after the write).
    await env.DB.prepare(`UPDATE sources SET status = 'deleting', updated_at = ? WHERE id = ?`).bind(Date.now() - 3_600_000, created.id).run();
    expectProblem(await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token }), 404);
    await runCron();
    await waitForPurge(created.id);
    expect(await countRows('SELECT count(*) AS n FROM chunks WHERE source_id = ?', created.id)).toBe(0);
  });

  it('a source cannot be synced while it is still processing', async () => {
    const owner = await register('cron-busy');
    const created = await addText(owner.token, owner.botId, 'Policy', 'Orders ship within two business days.');
    await waitForSource(owner.token, created.id);
    await env.DB.prepare(`UPDATE sources SET status = 'processing' WHERE id = ?`).bind(created.id).run();
    expectProblem(await call('POST', `/api/v1/sources/${created.id}/sync`, { token: owner.token }), 409, 'source_busy');
  });

  it('clears idempotency keys past their 24 h and keeps the live ones', async () => {
    const owner = await register('cron-idem');
    const now = Date.now();
    const insert = (key: string, expiresAt: number) =>
      env.DB.prepare(
        `INSERT INTO idempotency_keys (org_id, actor_id, route, key, fingerprint, state, status, body, created_at, expires_at)
         VALUES (?, ?, 'POST /api/v1/bots', ?, 'fp', 'completed', 201, '{}', ?, ?)`,
      )
        .bind(owner.orgId, owner.userId, key, expiresAt - 86_400_000, expiresAt)
        .run();
    await insert('expired', now - 1000);
    await insert('live', now + 60_000);

    await runCron(now);

    const keys = await env.DB.prepare('SELECT key FROM idempotency_keys WHERE org_id = ?').bind(owner.orgId).all<{ key: string }>();
    expect(keys.results.map((r) => r.key)).toEqual(['live']);
  });
});
