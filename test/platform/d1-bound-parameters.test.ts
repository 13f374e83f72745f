import { env } from 'cloudflare:test';
import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client';
import { sources } from '../../src/db/schema';
import { call, register } from '../support/api';
import { addText, waitForSource } from '../support/knowledge';
import { d1Guard } from '../setup/d1-bound-parameter-guard';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `src_${i}`);

describe('the test-time guard for D1\'s 100 bound parameters', () => {
  it('fails a raw statement with 101 bound parameters and runs one with 100', async () => {
    const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(',');
    expect(() => env.DB.prepare(`SELECT count(*) AS n FROM sources WHERE id IN (${placeholders(101)})`).bind(...ids(101))).toThrow(
      /bound-parameter guard: 101 parameters/,
    );
    const ok = await env.DB.prepare(`SELECT count(*) AS n FROM sources WHERE id IN (${placeholders(100)})`).bind(...ids(100)).first<{ n: number }>();
    expect(ok?.n).toBe(0);
  });

  it('fails a drizzle query with 101 bound parameters', async () => {
    const db = createDb(env.DB);
    // drizzle wraps the driver's error as "Failed query: …" and keeps it as the cause.
    const failure = await db.select().from(sources).where(inArray(sources.id, ids(101))).then(() => null, (err: Error) => err);
    expect(String((failure?.cause as Error | undefined)?.message)).toMatch(/bound-parameter guard: 101 parameters/);
    await expect(db.select().from(sources).where(inArray(sources.id, ids(100)))).resolves.toEqual([]);
  });

  it('sees the statements of requests (SELF.fetch) and of queue consumers', async () => {
    d1Guard.seen.clear();
    const owner = await register('d1-guard');
    // Registration writes the user in the request: the guard saw that statement.
    expect([...d1Guard.seen].some((sql) => /^insert into "users"/i.test(sql))).toBe(true);
    const created = await addText(owner.token, owner.botId, 'Guarded', 'Statements of queue consumers pass the guard too.');
    await waitForSource(owner.token, created.id);
    // Only the indexing job (a queue consumer) writes chunk rows.
    expect([...d1Guard.seen].some((sql) => /^insert into "chunks"/i.test(sql))).toBe(true);
    expect((await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token })).body.status).toBe('ready');
  });
});
