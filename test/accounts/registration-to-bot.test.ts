import { describe, expect, it } from 'vitest';
import { call, expectProblem, register, uniqueEmail, PASSWORD } from '../support/api';

describe('registration to bot creation, end to end', () => {
  it('registers, signs in, creates, edits, lists and deletes a bot', async () => {
    const email = uniqueEmail('ada');
    const reg = await call('POST', '/api/v1/auth/register', {
      body: { email: `  ${email.toUpperCase()} `, password: PASSWORD, name: 'Ada', orgName: 'Analytical Engines' },
    });
    expect(reg.status).toBe(201);
    expect(reg.body.user).toMatchObject({ email, name: 'Ada', emailVerified: false });
    expect(reg.body.organization).toMatchObject({ name: 'Analytical Engines', role: 'owner' });
    expect(reg.body.bot.id).toMatch(/^bot_/);
    expect(reg.body.tokenType).toBe('Bearer');

    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const token = login.body.accessToken;

    const created = await call('POST', '/api/v1/bots', {
      token,
      body: { name: 'Support', instructions: 'Be brief.', retrieval: { topK: 4 }, allowedOrigins: ['https://shop.example.com'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Support', instructions: 'Be brief.', retrieval: { topK: 4, hybrid: true }, visibility: 'private' });
    expect(created.headers.get('location')).toBe(`/api/v1/bots/${created.body.id}`);

    const patched = await call('PATCH', `/api/v1/bots/${created.body.id}`, { token, body: { model: { temperature: 0.7 }, visibility: 'public' } });
    expect(patched.status).toBe(200);
    expect(patched.body.model).toMatchObject({ temperature: 0.7, provider: 'offline' });
    expect(patched.body.visibility).toBe('public');

    const list = await call('GET', '/api/v1/bots?limit=10', { token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((b: { id: string }) => b.id)).toEqual([created.body.id, reg.body.bot.id]);
    expect(list.body.nextCursor).toBeNull();

    expect((await call('DELETE', `/api/v1/bots/${created.body.id}`, { token })).status).toBe(204);
    expectProblem(await call('GET', `/api/v1/bots/${created.body.id}`, { token }), 404, 'bot_not_found');
  });

  it('refuses chunking the chunker cannot run (overlap over half a chunk), on create and on a PATCH merged with the stored values', async () => {
    const owner = await register('chunking');
    const overlapping = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'Overlap', chunking: { chunkTokens: 100, overlapTokens: 80 } } });
    const created = expectProblem(overlapping, 400, 'validation_failed');
    expect(created.errors.map((e: { path: string }) => e.path)).toEqual(['chunking.overlapTokens']);

    const ok = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'Half', chunking: { chunkTokens: 100, overlapTokens: 50 } } });
    expect(ok.status).toBe(201);
    expect(ok.body.chunking).toEqual({ strategy: 'recursive', chunkTokens: 100, overlapTokens: 50 });
    // The stored overlap (50) is more than half of 64.
    const shrunk = expectProblem(await call('PATCH', `/api/v1/bots/${ok.body.id}`, { token: owner.token, body: { chunking: { chunkTokens: 64 } } }), 400, 'validation_failed');
    expect(shrunk.errors.map((e: { path: string }) => e.path)).toEqual(['chunking.overlapTokens']);
    expect((await call('GET', `/api/v1/bots/${ok.body.id}`, { token: owner.token })).body.chunking.chunkTokens).toBe(100);

    // Another org's bot is a 404 before its chunking is looked at.
    const stranger = await register('chunking-other');
    expectProblem(await call('PATCH', `/api/v1/bots/${ok.body.id}`, { token: stranger.token, body: { chunking: { chunkTokens: 64 } } }), 404, 'bot_not_found');
  });

  it('rejects a duplicate email and weak passwords with field errors', async () => {
    const account = await register('dup');
    expectProblem(await call('POST', '/api/v1/auth/register', { body: { email: account.email, password: PASSWORD, name: 'x' } }), 409, 'email_taken');
    const short = expectProblem(await call('POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: 'short', name: 'x' } }), 400, 'weak_password');
    expect(short.errors[0].path).toBe('password');
    const email = uniqueEmail();
    expectProblem(await call('POST', '/api/v1/auth/register', { body: { email, password: email, name: 'x' } }), 400, 'weak_password');
    const invalid = expectProblem(await call('POST', '/api/v1/auth/register', { body: { email: 'nope', name: '' } }), 400, 'validation_failed');
    expect(invalid.errors.map((e: { path: string }) => e.path).sort()).toEqual(['email', 'name', 'password']);
  });

  it('paginates bots with a cursor that is stable under inserts', async () => {
    const account = await register('pager');
    for (let i = 0; i < 4; i++) await call('POST', '/api/v1/bots', { token: account.token, body: { name: `bot ${i}` } });
    const first = await call('GET', '/api/v1/bots?limit=2', { token: account.token });
    expect(first.body.data).toHaveLength(2);
    await call('POST', '/api/v1/bots', { token: account.token, body: { name: 'late arrival' } });
    const second = await call('GET', `/api/v1/bots?limit=2&cursor=${first.body.nextCursor}`, { token: account.token });
    const third = await call('GET', `/api/v1/bots?limit=2&cursor=${second.body.nextCursor}`, { token: account.token });
    const seen = [...first.body.data, ...second.body.data, ...third.body.data].map((b: { name: string }) => b.name);
    expect(seen).toEqual(['bot 3', 'bot 2', 'bot 1', 'bot 0', 'My first bot']);
    expect(third.body.nextCursor).toBeNull();
    expectProblem(await call('GET', '/api/v1/bots?cursor=garbage', { token: account.token }), 400, 'invalid_cursor');
  });
});
