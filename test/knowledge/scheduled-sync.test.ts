import { env, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { call, expectProblem, register } from '../support/api';
import { addText, countRows, searchBot, waitForPurge, waitForSource } from '../support/knowledge';
import { SWEEPER } from '../../src/limits';

async function runCron(at = Date.now()) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/15 * * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Later than the sweeper's threshold for stranded work. */
const pastStuckThreshold = () => Date.now() + SWEEPER.stuckAfterMs + 60_000;

/** The JOBS queue refuses every send, as when the Queues service is down after a D1 write committed. */
function failQueueSends() {
  const down = () => Promise.reject(new Error('Queue send failed: service unavailable'));
  vi.spyOn(env.JOBS, 'send').mockImplementation(down);
  vi.spyOn(env.JOBS, 'sendBatch').mockImplementation(down);
}

const chunkSeqs = async (sourceId: string) =>
  (await env.DB.prepare('SELECT seq FROM chunks WHERE source_id = ? ORDER BY seq').bind(sourceId).all<{ seq: number }>()).results.map((r) => r.seq);

describe('scheduled re-sync and recovery by the cron trigger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sets a schedule and re-syncs the source when it is due', async () => {
    const owner = await register('cron');
    const created = await addText(owner.token, owner.botId, 'Policy', 'Returns are accepted within thirty days of delivery.');
    const first = await waitForSource(owner.token, created.id);
    const seqsBefore = await chunkSeqs(created.id);
    expect(seqsBefore.length).toBeGreaterThan(0);
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
    // Unchanged content was skipped: the very same chunk rows (re-indexing would replace them,
    // and their FTS rows and vectors with them, under new row numbers).
    expect(await chunkSeqs(created.id)).toEqual(seqsBefore);
  });

  it('resumes a purge whose queue message was lost', async () => {
    const owner = await register('cron-purge');
    const created = await addText(owner.token, owner.botId, 'Policy', 'Gift cards never expire and can be used online.');
    await waitForSource(owner.token, created.id);
    // The delete commits, but its purge message cannot be sent: still a 204, not a 500.
    failQueueSends();
    expect((await call('DELETE', `/api/v1/sources/${created.id}`, { token: owner.token })).status).toBe(204);
    vi.restoreAllMocks();
    expectProblem(await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token }), 404);
    await runCron();
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE id = ?', created.id)).toBe(1);
    await runCron(pastStuckThreshold());
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

  it('creating a source answers 202 when the queue send fails, and the sweeper starts the work', async () => {
    const owner = await register('cron-lost-create');
    failQueueSends();
    const created = await addText(owner.token, owner.botId, 'Policy', 'Pallets are collected on Thursdays from the loading bay.');
    vi.restoreAllMocks();
    expect(created.status).toBe('queued');
    // Not yet stranded: the sweeper leaves a fresh queued source alone.
    await runCron();
    expect((await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token })).body.status).toBe('queued');

    await runCron(pastStuckThreshold());
    const ready = await waitForSource(owner.token, created.id);
    expect(ready).toMatchObject({ status: 'ready', progress: { done: 1, total: 1, failed: 0 } });
    expect((await searchBot(owner.token, owner.botId, 'when are pallets collected', { mode: 'keyword' }))[0]!.source.id).toBe(created.id);
  });

  it('a sync whose queue send failed answers 202, and the sweeper runs it', async () => {
    const owner = await register('cron-lost-sync');
    const created = await addText(owner.token, owner.botId, 'Policy', 'Forklift licences are renewed every three years.');
    const first = await waitForSource(owner.token, created.id);
    failQueueSends();
    const sync = await call('POST', `/api/v1/sources/${created.id}/sync`, { token: owner.token });
    vi.restoreAllMocks();
    expect(sync.status).toBe(202);
    expect(sync.body.status).toBe('queued');

    await runCron(pastStuckThreshold());
    const synced = await waitForSource(owner.token, created.id);
    expect(synced.status).toBe('ready');
    expect(Date.parse(synced.lastSyncedAt)).toBeGreaterThan(Date.parse(first.lastSyncedAt));
  });

  it('re-sends a document whose index job was lost, and settles a source whose settle was lost', async () => {
    const owner = await register('cron-stuck');
    const stuckDoc = await addText(owner.token, owner.botId, 'Doc', 'Hazardous goods are stored in cage four.');
    const unsettled = await addText(owner.token, owner.botId, 'Other', 'Visitors sign in at the front desk.');
    await waitForSource(owner.token, stuckDoc.id);
    await waitForSource(owner.token, unsettled.id);
    const longAgo = Date.now() - 3_600_000;
    // A document whose job vanished mid-indexing, and a source all of whose documents
    // finished without the source settling.
    await env.DB.batch([
      env.DB.prepare(`UPDATE sources SET status = 'processing', updated_at = ? WHERE id IN (?, ?)`).bind(longAgo, stuckDoc.id, unsettled.id),
      env.DB.prepare(`UPDATE documents SET status = 'processing', updated_at = ? WHERE source_id = ?`).bind(longAgo, stuckDoc.id),
    ]);
    await runCron();
    const unstuck = await waitForSource(owner.token, stuckDoc.id);
    expect(unstuck).toMatchObject({ status: 'ready', progress: { done: 1, total: 1, failed: 0 } });
    expect((await call('GET', `/api/v1/sources/${unsettled.id}`, { token: owner.token })).body.status).toBe('ready');
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
