/**
 * Edits that cannot erase each other: PATCH writes only the fields it names (JSON groups merge
 * key by key), and bots and sources carry an ETag that If-Match turns into a precondition.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, expectProblem, register, type Account } from '../support/api';
import { addText, waitForSource } from '../support/knowledge';

const patchBot = (who: Account, botId: string, body: unknown, headers: Record<string, string> = {}) =>
  call('PATCH', `/api/v1/bots/${botId}`, { token: who.token, body, headers });

describe('PATCH /bots/{botId} writes only the given fields', () => {
  it('keeps both of two concurrent edits of different fields, including keys of the same group', async () => {
    const owner = await register('bot-race');
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([
        patchBot(owner, owner.botId, { name: `Name ${round}` }),
        patchBot(owner, owner.botId, { description: `Description ${round}` }),
        patchBot(owner, owner.botId, { retrieval: { topK: 10 + round } }),
        patchBot(owner, owner.botId, { retrieval: { minScore: round / 10 } }),
        patchBot(owner, owner.botId, { chunking: { strategy: round % 2 ? 'markdown' : 'recursive' } }),
        patchBot(owner, owner.botId, { chunking: { chunkTokens: 300 + round } }),
        patchBot(owner, owner.botId, { retrieval: { fusion: round % 2 ? 'rrf' : 'convex' } }),
        patchBot(owner, owner.botId, { retrieval: { hybridWeight: round / 10 } }),
      ]);
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
      const bot = (await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).body;
      expect(bot.name).toBe(`Name ${round}`);
      expect(bot.description).toBe(`Description ${round}`);
      expect(bot.retrieval).toMatchObject({ topK: 10 + round, minScore: round / 10, fusion: round % 2 ? 'rrf' : 'convex', hybridWeight: round / 10 });
      expect(bot.chunking).toMatchObject({ strategy: round % 2 ? 'markdown' : 'recursive', chunkTokens: 300 + round });
    }
  });

  it('sets hybridWeight back to the embedder default with null, leaving the other retrieval fields', async () => {
    const owner = await register('bot-weight-null');
    await patchBot(owner, owner.botId, { retrieval: { topK: 7, fusion: 'rrf', hybridWeight: 0.4 } });
    const res = await patchBot(owner, owner.botId, { retrieval: { hybridWeight: null } });
    expect(res.status).toBe(200);
    expect(res.body.retrieval).toMatchObject({ topK: 7, fusion: 'rrf', hybridWeight: null });
  });

  it('refuses a chunking change whose merge with the stored settings puts overlap at or above chunk size, and writes nothing', async () => {
    const owner = await register('bot-chunking');
    await patchBot(owner, owner.botId, { chunking: { chunkTokens: 200, overlapTokens: 50 } });
    const before = await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token });

    const res = await patchBot(owner, owner.botId, { name: 'Not saved', chunking: { overlapTokens: 200 } });

    expectProblem(res, 400, 'validation_failed');
    const after = await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token });
    expect(after.body).toEqual(before.body);
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
  });
});

describe('bot ETag and If-Match', () => {
  it('GET and PATCH return an ETag that changes with every write', async () => {
    const owner = await register('bot-etag');
    const first = await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"\d+"$/);

    const patched = await patchBot(owner, owner.botId, { name: 'Renamed' });
    expect(patched.headers.get('etag')).toMatch(/^"\d+"$/);
    expect(patched.headers.get('etag')).not.toBe(etag);
    const again = await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token });
    expect(again.headers.get('etag')).toBe(patched.headers.get('etag'));
  });

  it('answers 412 precondition_failed to a stale If-Match and changes nothing', async () => {
    const owner = await register('bot-stale');
    const stale = (await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).headers.get('etag')!;
    await patchBot(owner, owner.botId, { name: 'Changed by someone else' });

    const res = await patchBot(owner, owner.botId, { description: 'Mine' }, { 'if-match': stale });

    expectProblem(res, 412, 'precondition_failed');
    const bot = (await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).body;
    expect(bot.name).toBe('Changed by someone else');
    expect(bot.description).not.toBe('Mine');
  });

  it('applies the change when If-Match is the current ETag, one of a list, or *', async () => {
    const owner = await register('bot-match');
    const current = (await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).headers.get('etag')!;

    const exact = await patchBot(owner, owner.botId, { name: 'Exact' }, { 'if-match': current });
    expect(exact.status).toBe(200);
    const listed = await patchBot(owner, owner.botId, { name: 'Listed' }, { 'if-match': `"999999", ${exact.headers.get('etag')}` });
    expect(listed.status).toBe(200);
    const any = await patchBot(owner, owner.botId, { name: 'Any' }, { 'if-match': '*' });
    expect(any.status).toBe(200);
    expect(any.body.name).toBe('Any');
  });

  it('treats a weak or malformed If-Match as not matching', async () => {
    const owner = await register('bot-weak');
    const current = (await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).headers.get('etag')!;
    expectProblem(await patchBot(owner, owner.botId, { name: 'Weak' }, { 'if-match': `W/${current}` }), 412, 'precondition_failed');
    expectProblem(await patchBot(owner, owner.botId, { name: 'Junk' }, { 'if-match': 'not-an-etag' }), 412, 'precondition_failed');
  });

  it("answers 404 for another org's bot, whatever If-Match says", async () => {
    const owner = await register('bot-owner');
    const intruder = await register('bot-intruder');
    const etag = (await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).headers.get('etag')!;
    expectProblem(await patchBot(intruder, owner.botId, { name: 'pwned' }, { 'if-match': etag }), 404, 'bot_not_found');
    expectProblem(await patchBot(intruder, owner.botId, { name: 'pwned' }, { 'if-match': '*' }), 404, 'bot_not_found');
  });
});

describe('source ETag and If-Match', () => {
  it('GET and PATCH carry an ETag; a stale If-Match is a 412, the current one or * applies', async () => {
    const owner = await register('src-etag');
    const created = await addText(owner.token, owner.botId, 'Hours', 'We open at nine.');
    await waitForSource(owner.token, created.id);
    const got = await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token });
    const etag = got.headers.get('etag')!;
    expect(etag).toMatch(/^"\d+"$/);

    const patched = await call('PATCH', `/api/v1/sources/${created.id}`, { token: owner.token, body: { schedule: 'daily' }, headers: { 'if-match': etag } });
    expect(patched.status).toBe(200);
    expect(patched.body.schedule).toBe('daily');
    expect(patched.headers.get('etag')).not.toBe(etag);

    const stale = await call('PATCH', `/api/v1/sources/${created.id}`, { token: owner.token, body: { schedule: 'weekly' }, headers: { 'if-match': etag } });
    expectProblem(stale, 412, 'precondition_failed');
    expect((await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token })).body.schedule).toBe('daily');

    const any = await call('PATCH', `/api/v1/sources/${created.id}`, { token: owner.token, body: { schedule: 'weekly' }, headers: { 'if-match': '*' } });
    expect(any.status).toBe(200);
    expect(any.body.schedule).toBe('weekly');
  });

  it('changes the ETag when an ingestion job writes the row without bumping the revision itself', async () => {
    const owner = await register('src-etag-jobs');
    const created = await addText(owner.token, owner.botId, 'Returns', 'Returns are free for thirty days.');
    await waitForSource(owner.token, created.id);
    const before = await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token });
    // What the ingestion modules do: a plain status UPDATE that knows nothing about revisions.
    await env.DB.prepare("UPDATE sources SET status = 'processing' WHERE id = ?").bind(created.id).run();
    const after = await call('GET', `/api/v1/sources/${created.id}`, { token: owner.token });
    expect(after.body.status).toBe('processing');
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it("answers 404 for another org's source, whatever If-Match says", async () => {
    const owner = await register('src-owner');
    const intruder = await register('src-intruder');
    const created = await addText(owner.token, owner.botId, 'Private', 'Only for the owner.');
    const res = await call('PATCH', `/api/v1/sources/${created.id}`, { token: intruder.token, body: { schedule: 'daily' }, headers: { 'if-match': '*' } });
    expectProblem(res, 404, 'source_not_found');
  });
});
