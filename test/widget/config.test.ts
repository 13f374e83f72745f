/**
 * The widget's settings (issue #9, server side), through the real Worker: the org's widget
 * defaults (GET/PATCH /widget-defaults, ETag and If-Match), a bot's widget overrides
 * (PATCH /bots/{id} {widget}), and the public, merged GET /widget/{botId}/config that a
 * visitor's widget loads: built-in ← org defaults ← bot overrides, whitelabel at org level only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectProblem, register, type Account, type CallResult } from '../support/api';
import { joinAs, type Member } from '../support/accounts';

let a: Account;
let b: Account;
let viewer: Member;
let member: Member;
let admin: Member;

beforeAll(async () => {
  a = await register('widget-a');
  b = await register('widget-b');
  viewer = await joinAs(a, a.orgId, 'viewer', 'widget-viewer');
  member = await joinAs(a, a.orgId, 'member', 'widget-member');
  admin = await joinAs(a, a.orgId, 'admin', 'widget-admin');
});

const as = (who: { token: string }, orgId = a.orgId) => ({ token: who.token, orgId });
/** The page embedding the widget: every test bot allows it (the widget endpoints answer only allowed origins). */
const HOST = 'https://host.example.org';
const config = (botId: string, headers: Record<string, string> = {}) => call('GET', `/api/v1/widget/${botId}/config`, { headers: { origin: HOST, ...headers } });
const defaults = (who: { token: string } = a, orgId = a.orgId) => call('GET', '/api/v1/widget-defaults', as(who, orgId));
const patchDefaults = (body: unknown, who: { token: string } = a, headers: Record<string, string> = {}, orgId = a.orgId) =>
  call('PATCH', '/api/v1/widget-defaults', { ...as(who, orgId), body, headers });

async function newBot(owner: Account, body: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/v1/bots', { ...as(owner, owner.orgId), body: { name: 'Widget bot', visibility: 'public', allowedOrigins: [HOST], ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}
const patchBot = (botId: string, body: unknown, who: { token: string } = a, orgId = a.orgId) =>
  call('PATCH', `/api/v1/bots/${botId}`, { ...as(who, orgId), body });

/** A problem body without its request id: two refusals compare equal when they say the same. */
const sameAnswer = (res: CallResult) => ({ status: res.status, contentType: res.headers.get('content-type'), body: { ...res.body, requestId: null } });

const errorPaths = (res: CallResult) => (res.body.errors as { path: string }[]).map((e) => e.path);

const BUILT_IN = {
  appearance: { theme: 'auto', brandColor: '#2563eb', position: 'right', avatarUrl: null, title: '' },
  messages: { initial: ['Hi! How can I help you today?'], suggestedQuestions: [], placeholder: 'Ask a question…' },
  leadForm: { enabled: false, fields: [], when: 'after_first_answer' },
  features: { feedback: true, copy: true, history: true },
  lang: 'auto',
  branding: { poweredBy: true },
};

describe('a bare org and bot', () => {
  it('read the built-in widget defaults, at ETag "0", never updated', async () => {
    const res = await defaults(viewer);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...BUILT_IN, updatedAt: null });
    expect(res.headers.get('etag')).toBe('"0"');
  });

  it("get the built-in config for a public bot, titled with the bot's name, and no bot overrides in its DTO", async () => {
    const botId = await newBot(a, { name: 'Helpdesk' });
    const bot = await call('GET', `/api/v1/bots/${botId}`, as(a));
    expect(bot.body.widget).toBeNull();
    const res = await config(botId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ botId, name: 'Helpdesk', ...BUILT_IN, appearance: { ...BUILT_IN.appearance, title: 'Helpdesk' }, handoff: { enabled: false } });
  });
});

describe('the public config', () => {
  it('carries exactly botId, name, the six settings groups and whether handoff is on, and nothing internal of the bot or its org', async () => {
    const botId = await newBot(a, { instructions: 'SECRET-INSTRUCTIONS', allowedOrigins: [HOST, 'https://shop.example.com'], description: 'internal notes' });
    const res = await config(botId);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['appearance', 'botId', 'branding', 'features', 'handoff', 'lang', 'leadForm', 'messages', 'name']);
    expect(Object.keys(res.body.appearance).sort()).toEqual(['avatarUrl', 'brandColor', 'position', 'theme', 'title']);
    expect(Object.keys(res.body.messages).sort()).toEqual(['initial', 'placeholder', 'suggestedQuestions']);
    expect(Object.keys(res.body.leadForm).sort()).toEqual(['enabled', 'fields', 'when']);
    expect(Object.keys(res.body.features).sort()).toEqual(['copy', 'feedback', 'history']);
    expect(Object.keys(res.body.branding)).toEqual(['poweredBy']);
    const text = JSON.stringify(res.body);
    for (const secret of [a.orgId, 'SECRET-INSTRUCTIONS', 'shop.example.com', 'internal notes', a.userId]) expect(text).not.toContain(secret);
  });

  it('answers only the bot\'s allowed origins: another origin or none gets a 403 and no config', async () => {
    const botId = await newBot(a);
    const res = await config(botId);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(HOST);
    for (const origin of ['https://evil.example.net', 'null']) {
      const refused = await config(botId, { origin });
      expectProblem(refused, 403, 'origin_not_allowed');
      expect(JSON.stringify(refused.body)).not.toContain('appearance');
    }
    expectProblem(await call('GET', `/api/v1/widget/${botId}/config`), 403, 'origin_not_allowed');
  });

  it('answers a private bot (active or paused), an unknown id and a deleted bot with the same 404 bot_not_found', async () => {
    const privateBot = await newBot(a, { visibility: 'private' });
    const pausedPrivate = await newBot(a, { visibility: 'private', status: 'paused' });
    const deleted = await newBot(a);
    expect((await config(deleted)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/bots/${deleted}`, as(a))).status).toBe(204);

    const unknown = await config('bot_01JD3X0000000000000000000');
    expectProblem(unknown, 404, 'bot_not_found');
    for (const botId of [privateBot, pausedPrivate, deleted]) {
      const res = await config(botId);
      expectProblem(res, 404, 'bot_not_found');
      expect(sameAnswer(res)).toEqual(sameAnswer(unknown));
      expect(res.headers.get('cache-control')).toBe(unknown.headers.get('cache-control'));
    }
  });

  it('becomes a 404 as soon as a public bot is made private', async () => {
    const botId = await newBot(a);
    expect((await config(botId)).status).toBe(200);
    expect((await patchBot(botId, { visibility: 'private' })).status).toBe(200);
    expectProblem(await config(botId), 404, 'bot_not_found');
  });

  it('answers a malformed bot id like an unknown one (404 problem), not a 500', async () => {
    expectProblem(await config('x'.repeat(65)), 404, 'bot_not_found');
  });

  it('is cacheable for 60 s with an ETag, answers 304 to If-None-Match (weak or strong), and changes ETag when the settings change', async () => {
    const org = await register('widget-etag');
    const botId = await newBot(org);
    const first = await config(botId);
    const etag = first.headers.get('etag')!;
    expect(first.headers.get('cache-control')).toBe('public, max-age=60');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);

    const again = await config(botId, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe('public, max-age=60');
    expect((await config(botId, { 'if-none-match': `"stale", W/${etag}` })).status).toBe(304);
    expect((await config(botId, { 'if-none-match': '"stale"' })).status).toBe(200);

    expect((await patchDefaults({ appearance: { theme: 'dark' } }, org, {}, org.orgId)).status).toBe(200);
    const changed = await config(botId, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.appearance.theme).toBe('dark');
    expect(changed.headers.get('etag')).not.toBe(etag);
  });
});

describe('org defaults and bot overrides', () => {
  it('org PATCH writes only the given fields, merging each group, and every public bot of the org inherits them', async () => {
    const org = await register('widget-merge');
    const botId = await newBot(org);
    const first = await patchDefaults(
      { appearance: { brandColor: '#ff0000', title: 'Acme help' }, messages: { suggestedQuestions: ['Opening hours?'] }, features: { copy: false } },
      org,
      {},
      org.orgId,
    );
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const second = await patchDefaults({ appearance: { position: 'left' }, lang: 'de' }, org, {}, org.orgId);
    expect(second.status).toBe(200);
    expect(second.body.appearance).toEqual({ ...BUILT_IN.appearance, brandColor: '#ff0000', title: 'Acme help', position: 'left' });
    expect(second.body.messages).toEqual({ ...BUILT_IN.messages, suggestedQuestions: ['Opening hours?'] });
    expect(second.body.features).toEqual({ feedback: true, copy: false, history: true });
    expect(second.body.lang).toBe('de');
    expect(second.body.updatedAt).toEqual(expect.any(String));
    expect(second.headers.get('etag')).toBe('"2"');
    expect((await defaults(org, org.orgId)).body).toEqual(second.body);

    const res = await config(botId);
    expect(res.body.appearance).toEqual({ ...BUILT_IN.appearance, brandColor: '#ff0000', title: 'Acme help', position: 'left' });
    expect(res.body.messages.suggestedQuestions).toEqual(['Opening hours?']);
    expect(res.body.features.copy).toBe(false);
    expect(res.body.lang).toBe('de');
  });

  it('a null group resets it to the built-in values', async () => {
    const org = await register('widget-reset');
    await patchDefaults({ appearance: { brandColor: '#123456', avatarUrl: 'https://cdn.example.com/a.png' }, lang: 'en' }, org, {}, org.orgId);
    const reset = await patchDefaults({ appearance: null, lang: null }, org, {}, org.orgId);
    expect(reset.status).toBe(200);
    expect(reset.body.appearance).toEqual(BUILT_IN.appearance);
    expect(reset.body.lang).toBe('auto');
  });

  it("a bot's overrides win over the org's defaults group by group, show in the bot DTO, merge on later PATCHes, and null clears them", async () => {
    const org = await register('widget-bot');
    const botId = await newBot(org, { name: 'Sales' });
    await patchDefaults({ appearance: { brandColor: '#ff0000', position: 'left' }, leadForm: { enabled: true, fields: [{ field: 'email', required: true }] } }, org, {}, org.orgId);

    const set = await patchBot(botId, { widget: { appearance: { brandColor: '#00ff00' }, lang: 'en', leadForm: { when: 'before_chat' } } }, org, org.orgId);
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.widget).toEqual({ appearance: { brandColor: '#00ff00' }, lang: 'en', leadForm: { when: 'before_chat' } });

    const merged = await patchBot(botId, { widget: { appearance: { title: 'Talk to sales' }, messages: { initial: ['Hello!\nAsk me anything.'] } } }, org, org.orgId);
    expect(merged.body.widget).toEqual({
      appearance: { brandColor: '#00ff00', title: 'Talk to sales' },
      lang: 'en',
      leadForm: { when: 'before_chat' },
      messages: { initial: ['Hello!\nAsk me anything.'] },
    });

    const effective = await config(botId);
    expect(effective.body.appearance).toEqual({ ...BUILT_IN.appearance, brandColor: '#00ff00', position: 'left', title: 'Talk to sales' });
    expect(effective.body.leadForm).toEqual({ enabled: true, fields: [{ field: 'email', required: true }], when: 'before_chat' });
    expect(effective.body.messages.initial).toEqual(['Hello!\nAsk me anything.']);
    expect(effective.body.lang).toBe('en');

    const cleared = await patchBot(botId, { widget: null }, org, org.orgId);
    expect(cleared.status).toBe(200);
    expect(cleared.body.widget).toBeNull();
    const back = await config(botId);
    expect(back.body.appearance).toEqual({ ...BUILT_IN.appearance, brandColor: '#ff0000', position: 'left', title: 'Sales' });
    expect(back.body.lang).toBe('auto');
  });

  it('a bot can be created with widget overrides', async () => {
    const botId = await newBot(a, { widget: { features: { history: false } } });
    expect((await call('GET', `/api/v1/bots/${botId}`, as(a))).body.widget).toEqual({ features: { history: false } });
    expect((await config(botId)).body.features.history).toBe(false);
  });
});

describe('whitelabel', () => {
  it('an admin removes "Powered by KyroChat" for the whole org', async () => {
    const org = await register('widget-white');
    const admin2 = await joinAs(org, org.orgId, 'admin', 'widget-white-admin');
    const botId = await newBot(org);
    const res = await patchDefaults({ branding: { poweredBy: false } }, admin2, {}, org.orgId);
    expect(res.status).toBe(200);
    expect(res.body.branding).toEqual({ poweredBy: false });
    expect((await config(botId)).body.branding).toEqual({ poweredBy: false });
  });

  it('a member, who may edit bots, cannot change branding: 403 and the org keeps "Powered by"', async () => {
    const problem = expectProblem(await patchDefaults({ branding: { poweredBy: false } }, member), 403, 'forbidden');
    expect(problem.detail).toContain('member');
    expect((await defaults(member)).body.branding).toEqual({ poweredBy: true });
  });

  it("a bot cannot override branding: its PATCH is a 400 naming branding, and the bot is unchanged", async () => {
    const botId = await newBot(a);
    const before = await call('GET', `/api/v1/bots/${botId}`, as(a));
    const res = await patchBot(botId, { widget: { branding: { poweredBy: false } } });
    const problem = expectProblem(res, 400, 'validation_failed');
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'widget', message: expect.stringContaining('branding') })]);
    const created = await call('POST', '/api/v1/bots', { ...as(a), body: { name: 'x', widget: { branding: { poweredBy: false } } } });
    expectProblem(created, 400, 'validation_failed');
    const after = await call('GET', `/api/v1/bots/${botId}`, as(a));
    expect(after.body).toEqual(before.body);
    expect((await config(botId)).body.branding).toEqual({ poweredBy: true });
  });
});

describe('validation', () => {
  it.each([
    ['a colour that is not #rrggbb', { appearance: { brandColor: 'red' } }, 'appearance.brandColor'],
    ['a javascript: avatar URL', { appearance: { avatarUrl: 'javascript:alert(1)' } }, 'appearance.avatarUrl'],
    ['an http (not https) avatar URL', { appearance: { avatarUrl: 'http://cdn.example.com/a.png' } }, 'appearance.avatarUrl'],
    ['an avatar URL with credentials', { appearance: { avatarUrl: 'https://user:pw@cdn.example.com/a.png' } }, 'appearance.avatarUrl'],
    ['an avatar URL over 2048 characters', { appearance: { avatarUrl: `https://cdn.example.com/${'a'.repeat(2040)}` } }, 'appearance.avatarUrl'],
    ['a title over 80 characters', { appearance: { title: 't'.repeat(81) } }, 'appearance.title'],
    ['a title with a bidi override', { appearance: { title: 'evil\u202Etxt.exe' } }, 'appearance.title'],
    ['7 suggested questions', { messages: { suggestedQuestions: Array.from({ length: 7 }, (_, i) => `Q${i}?`) } }, 'messages.suggestedQuestions'],
    ['a suggested question over 200 characters', { messages: { suggestedQuestions: ['q'.repeat(201)] } }, 'messages.suggestedQuestions.0'],
    ['6 initial messages', { messages: { initial: ['a', 'b', 'c', 'd', 'e', 'f'] } }, 'messages.initial'],
    ['an initial message over 500 characters', { messages: { initial: ['m'.repeat(501)] } }, 'messages.initial.0'],
    ['a placeholder over 120 characters', { messages: { placeholder: 'p'.repeat(121) } }, 'messages.placeholder'],
    ['an unknown lead field', { leadForm: { fields: [{ field: 'address', required: true }] } }, 'leadForm.fields.0.field'],
    ['a lead field twice', { leadForm: { fields: [{ field: 'email', required: true }, { field: 'email', required: false }] } }, 'leadForm.fields'],
    ['an unknown lead form moment', { leadForm: { when: 'never' } }, 'leadForm.when'],
    ['a language not shipped', { lang: 'fr' }, 'lang'],
    ['a theme not offered', { appearance: { theme: 'neon' } }, 'appearance.theme'],
  ])('refuses %s with a 400 naming the field, in the org defaults and a bot, storing nothing', async (_, body, path) => {
    const before = await defaults();
    const res = await patchDefaults(body);
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toContain(path);
    const after = await defaults();
    expect(after.body).toEqual(before.body);
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));

    const botRes = await patchBot(a.botId, { widget: body });
    expectProblem(botRes, 400, 'validation_failed');
    expect(errorPaths(botRes)).toContain(`widget.${path}`);
  });

  it('refuses an empty change, an unknown group and an unknown field in a group', async () => {
    expectProblem(await patchDefaults({}), 400, 'validation_failed');
    const unknownGroup = await patchDefaults({ colours: {} });
    expectProblem(unknownGroup, 400, 'validation_failed');
    expect(unknownGroup.body.errors).toContainEqual(expect.objectContaining({ path: '(body)', message: expect.stringContaining('colours') }));
    expect(errorPaths(await patchDefaults({ appearance: { font: 'Comic Sans' } }))).toEqual(['appearance']);
  });

  it('refuses a body that is not JSON with a 400 problem', async () => {
    const res = await call('PATCH', '/api/v1/widget-defaults', { ...as(a), body: '{"appearance":', headers: { 'content-type': 'application/json' } });
    expectProblem(res, 400, 'malformed_json');
  });
});

describe('If-Match on the widget defaults', () => {
  it('applies a change at the current ETag, and answers a stale one with 412, changing nothing', async () => {
    const current = await defaults();
    const etag = current.headers.get('etag')!;
    const applied = await patchDefaults({ messages: { placeholder: 'Type here' } }, a, { 'if-match': etag });
    expect(applied.status).toBe(200);
    expect(applied.headers.get('etag')).not.toBe(etag);

    const stale = await patchDefaults({ messages: { placeholder: 'Lost update' } }, a, { 'if-match': etag });
    expectProblem(stale, 412, 'precondition_failed');
    const after = await defaults();
    expect(after.body.messages.placeholder).toBe('Type here');
    expect(after.headers.get('etag')).toBe(applied.headers.get('etag'));
  });

  it('matches no revision with a weak or malformed If-Match (412), and any with *', async () => {
    const current = await defaults();
    const etag = current.headers.get('etag')!;
    expectProblem(await patchDefaults({ lang: 'en' }, a, { 'if-match': `W/${etag}` }), 412, 'precondition_failed');
    expectProblem(await patchDefaults({ lang: 'en' }, a, { 'if-match': 'garbage' }), 412, 'precondition_failed');
    expect((await defaults()).headers.get('etag')).toBe(etag);
    expect((await patchDefaults({ lang: 'en' }, a, { 'if-match': '*' })).status).toBe(200);
  });

  it('treats "0" as "never set": it creates the first defaults once, and a made-up revision on a fresh org is a 412', async () => {
    const org = await register('widget-ifmatch');
    expectProblem(await patchDefaults({ lang: 'de' }, org, { 'if-match': '"5"' }, org.orgId), 412, 'precondition_failed');
    expect((await defaults(org, org.orgId)).body.updatedAt).toBeNull();
    const created = await patchDefaults({ lang: 'de' }, org, { 'if-match': '"0"' }, org.orgId);
    expect(created.status).toBe(200);
    expect(created.headers.get('etag')).toBe('"1"');
    expectProblem(await patchDefaults({ lang: 'en' }, org, { 'if-match': '"0"' }, org.orgId), 412, 'precondition_failed');
    expect((await defaults(org, org.orgId)).body.lang).toBe('de');
  });
});

describe('who may change what', () => {
  it('a viewer reads the defaults but cannot change them (403), nor a bot\'s widget', async () => {
    expect((await defaults(viewer)).status).toBe(200);
    const problem = expectProblem(await patchDefaults({ lang: 'de' }, viewer), 403, 'forbidden');
    expect(problem.detail).toContain('viewer');
    expectProblem(await patchBot(a.botId, { widget: { lang: 'de' } }, viewer), 403, 'forbidden');
  });

  it("an admin changes the org's defaults and a member a bot's widget", async () => {
    expect((await patchDefaults({ features: { feedback: false } }, admin)).status).toBe(200);
    expect((await patchBot(a.botId, { widget: { features: { feedback: true } } }, member)).status).toBe(200);
  });

  it('the defaults need a signed-in caller', async () => {
    expectProblem(await call('GET', '/api/v1/widget-defaults'), 401);
  });
});

describe('across orgs', () => {
  it("another org's owner gets 404 for a's bot PATCH, a's bot keeps its widget", async () => {
    const botId = await newBot(a, { widget: { lang: 'en' } });
    expectProblem(await patchBot(botId, { widget: { lang: 'de' } }, b, b.orgId), 404, 'bot_not_found');
    expect((await call('GET', `/api/v1/bots/${botId}`, as(a))).body.widget).toEqual({ lang: 'en' });
  });

  it("another org's owner cannot read or change a's defaults by naming a's org (404), and each org keeps its own", async () => {
    expectProblem(await defaults(b, a.orgId), 404);
    expectProblem(await patchDefaults({ branding: { poweredBy: false } }, b, {}, a.orgId), 404);
    expect((await defaults(a)).body.branding).toEqual({ poweredBy: true });
    await patchDefaults({ appearance: { brandColor: '#abcdef' } }, b, {}, b.orgId);
    expect((await defaults(a)).body.appearance.brandColor).not.toBe('#abcdef');
  });
});
