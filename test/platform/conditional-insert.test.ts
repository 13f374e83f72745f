/**
 * `insertIfPreviousChanged`: how a D1 batch (no interactive transactions) makes one write
 * depend on the one before it, e.g. "issue the new refresh token only if the old one was
 * spent by this request". It must be batchable with bound parameters, encode columns the
 * way drizzle does (JSON, defaults) and write nothing when the previous statement changed
 * nothing.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb, insertIfPreviousChanged } from '../../src/db/client';
import { auditEvents, organizations, users } from '../../src/db/schema';

const db = createDb(env.DB);
const now = Date.now();

async function seedOrg(id: string) {
  await db.insert(organizations).values({ id, name: 'seed', createdAt: now, updatedAt: now });
}

describe('insertIfPreviousChanged', () => {
  it('writes the row when the previous statement in the batch changed a row', async () => {
    await seedOrg('org_cond_1');
    const [updated] = await db.batch([
      db.update(organizations).set({ name: 'renamed' }).where(eq(organizations.id, 'org_cond_1')).returning({ id: organizations.id }),
      insertIfPreviousChanged(db, auditEvents, {
        id: 'evt_cond_1',
        orgId: 'org_cond_1',
        actorType: 'system',
        actorId: null,
        action: 'org.update',
        targetType: 'org',
        targetId: 'org_cond_1',
        ip: null,
        userAgent: null,
        metadata: { nested: { ok: true }, list: [1, 2] },
        createdAt: now,
      }),
    ]);
    expect(updated).toHaveLength(1);
    const row = await db.select().from(auditEvents).where(eq(auditEvents.id, 'evt_cond_1')).get();
    expect(row).toMatchObject({ action: 'org.update', actorId: null, metadata: { nested: { ok: true }, list: [1, 2] } });
  });

  it('writes nothing when the previous statement changed nothing', async () => {
    const [updated] = await db.batch([
      db.update(organizations).set({ name: 'x' }).where(eq(organizations.id, 'org_does_not_exist')).returning({ id: organizations.id }),
      insertIfPreviousChanged(db, auditEvents, {
        id: 'evt_cond_2',
        orgId: null,
        actorType: 'system',
        action: 'never',
        metadata: {},
        createdAt: now,
      }),
    ]);
    expect(updated).toEqual([]);
    expect(await db.select().from(auditEvents).where(eq(auditEvents.id, 'evt_cond_2')).get()).toBeUndefined();
  });

  it('applies column defaults for omitted fields, like a plain insert', async () => {
    await seedOrg('org_cond_3');
    await db.batch([
      db.update(organizations).set({ name: 'touch' }).where(eq(organizations.id, 'org_cond_3')),
      insertIfPreviousChanged(db, users, { id: 'usr_cond_3', email: 'cond3@example.com', name: 'Cond', createdAt: now, updatedAt: now }),
    ]);
    const user = await db.select().from(users).where(eq(users.id, 'usr_cond_3')).get();
    expect(user).toMatchObject({ status: 'active', passwordHash: null, emailVerifiedAt: null });
  });
});
