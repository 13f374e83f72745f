import { describe, expect, it } from 'vitest';
import { call, expectProblem, register, uniqueEmail, type CallResult } from '../support/api';
import { invite, joinAs, mailsTo, memberRoles, membershipId, tokenFromLatestMail } from '../support/accounts';

describe('organizations', () => {
  it('registration creates an org the person owns; POST /orgs creates another', async () => {
    const account = await register('multi');
    const created = await call('POST', '/api/v1/orgs', { token: account.token, body: { name: '  Second Org ' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^org_/), name: 'Second Org', role: 'owner' });

    const list = await call('GET', '/api/v1/orgs', { token: account.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((o: { id: string; role: string }) => [o.id, o.role])).toEqual([
      [created.body.id, 'owner'],
      [account.orgId, 'owner'],
    ]);
    expect(list.body.nextCursor).toBeNull();

    const one = await call('GET', `/api/v1/orgs/${created.body.id}`, { token: account.token });
    expect(one.body).toEqual(created.body);
    // The new org starts empty: no bots, default settings.
    const bots = await call('GET', '/api/v1/bots', { token: account.token, orgId: created.body.id });
    expect(bots.body.data).toEqual([]);
    const settings = await call('GET', '/api/v1/settings', { token: account.token, orgId: created.body.id });
    expect(settings.body).toMatchObject({ provider: 'offline', secrets: {} });
  });

  it('needs X-Org-Id for org-scoped routes once a person belongs to two orgs', async () => {
    const account = await register('two-orgs');
    expect((await call('GET', '/api/v1/bots', { token: account.token })).status).toBe(200);
    const second = await call('POST', '/api/v1/orgs', { token: account.token, body: { name: 'Another' } });

    const problem = expectProblem(await call('GET', '/api/v1/bots', { token: account.token }), 400, 'org_required');
    expect(problem.errors).toEqual([{ path: 'header.x-org-id', message: 'Required' }]);
    expectProblem(await call('POST', '/api/v1/bots', { token: account.token, body: { name: 'where?' } }), 400, 'org_required');

    const inFirst = await call('GET', '/api/v1/bots', { token: account.token, orgId: account.orgId });
    expect(inFirst.body.data.map((b: { id: string }) => b.id)).toEqual([account.botId]);
    const made = await call('POST', '/api/v1/bots', { token: account.token, orgId: second.body.id, body: { name: 'in second' } });
    expect(made.body.orgId).toBe(second.body.id);
    const inSecond = await call('GET', '/api/v1/bots', { token: account.token, orgId: second.body.id });
    expect(inSecond.body.data.map((b: { id: string }) => b.id)).toEqual([made.body.id]);
  });

  it('renames an org and validates the name', async () => {
    const account = await register('rename-org');
    const renamed = await call('PATCH', `/api/v1/orgs/${account.orgId}`, { token: account.token, body: { name: 'New Name' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: account.orgId, name: 'New Name', role: 'owner' });
    const bad = expectProblem(await call('PATCH', `/api/v1/orgs/${account.orgId}`, { token: account.token, body: { name: '' } }), 400, 'validation_failed');
    expect(bad.errors[0].path).toBe('name');
    expectProblem(await call('POST', '/api/v1/orgs', { token: account.token, body: {} }), 400, 'validation_failed');
  });

  it('answers an org id that does not exist with 404', async () => {
    const account = await register('no-such-org');
    expectProblem(await call('GET', '/api/v1/orgs/org_01JD3X0000000000000000000', { token: account.token }), 404, 'org_not_found');
    expectProblem(await call('GET', '/api/v1/bots', { token: account.token, orgId: 'org_01JD3X0000000000000000000' }), 404, 'org_not_found');
  });
});

describe('invitations', () => {
  it('mails a token; the invitee accepts it signed in with that email and joins with the role', async () => {
    const owner = await register('inviter');
    const invitee = await register('invitee');
    const created = await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, {
      token: owner.token,
      body: { email: invitee.email.toUpperCase(), role: 'member' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email: invitee.email, role: 'member', invitedBy: owner.userId, acceptedAt: null });
    expect(JSON.stringify(created.body)).not.toMatch(/token/i);

    const pending = await call('GET', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token });
    expect(pending.body.data.map((i: { id: string }) => i.id)).toEqual([created.body.id]);

    const [mail] = await mailsTo(invitee.email, 'invitation');
    expect(mail?.text).toContain('as member');
    const mailed = await tokenFromLatestMail(invitee.email, 'invitation');
    const accepted = await call('POST', `/api/v1/invitations/${mailed}/accept`, { token: invitee.token });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ orgId: owner.orgId, role: 'member' });

    expect(await memberRoles(owner, owner.orgId)).toEqual({ [owner.userId]: 'owner', [invitee.userId]: 'member' });
    // Accepted invitations are no longer pending, and cannot be used again.
    const after = await call('GET', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token });
    expect(after.body.data.map((i: { id: string }) => i.id)).not.toContain(created.body.id);
    expectProblem(await call('POST', `/api/v1/invitations/${mailed}/accept`, { token: invitee.token }), 404, 'invitation_not_found');
  });

  it('refuses an invitation accepted by someone signed in with another email (403)', async () => {
    const owner = await register('inviter-2');
    const intended = uniqueEmail('intended');
    const { token } = await invite(owner, owner.orgId, intended, 'admin');
    const interloper = await register('interloper');
    expectProblem(await call('POST', `/api/v1/invitations/${token}/accept`, { token: interloper.token }), 403, 'invitation_email_mismatch');
    expect(Object.keys(await memberRoles(owner, owner.orgId))).toEqual([owner.userId]);

    // The invitation is still good for the person it was sent to, once they register.
    const res = await call('POST', '/api/v1/auth/register', { body: { email: intended, password: 'a-long-enough-password', name: 'Intended' } });
    const joined = await call('POST', `/api/v1/invitations/${token}/accept`, { token: res.body.accessToken });
    expect(joined.body).toEqual({ orgId: owner.orgId, role: 'admin' });
  });

  it('refuses to invite someone who is already a member', async () => {
    const owner = await register('inviter-3');
    const member = await joinAs(owner, owner.orgId, 'viewer', 'already');
    expectProblem(await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token, body: { email: member.email, role: 'member' } }), 409, 'already_member');
    expectProblem(await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token, body: { email: owner.email, role: 'member' } }), 409, 'already_member');
  });

  it('can be withdrawn, after which the token is dead', async () => {
    const owner = await register('withdrawer');
    const invitee = await register('withdrawn');
    const { invitationId, token } = await invite(owner, owner.orgId, invitee.email, 'member');
    expect((await call('DELETE', `/api/v1/orgs/${owner.orgId}/invitations/${invitationId}`, { token: owner.token })).status).toBe(204);
    expectProblem(await call('DELETE', `/api/v1/orgs/${owner.orgId}/invitations/${invitationId}`, { token: owner.token }), 404, 'invitation_not_found');
    expectProblem(await call('POST', `/api/v1/invitations/${token}/accept`, { token: invitee.token }), 404, 'invitation_not_found');
    const pending = await call('GET', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token });
    expect(pending.body.data).toEqual([]);
  });

  it('lists pending invitations newest first with ?limit=&cursor=, each exactly once', async () => {
    const owner = await register('inviter-pages');
    const invited: string[] = [];
    for (let i = 0; i < 5; i++) invited.push((await invite(owner, owner.orgId, uniqueEmail(`paged-${i}`), 'viewer')).invitationId);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: CallResult = await call('GET', `/api/v1/orgs/${owner.orgId}/invitations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((i: { id: string }) => i.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...invited].reverse());
    expectProblem(await call('GET', `/api/v1/orgs/${owner.orgId}/invitations?cursor=garbage`, { token: owner.token }), 400, 'invalid_cursor');
    expectProblem(await call('GET', `/api/v1/orgs/${owner.orgId}/invitations?limit=0`, { token: owner.token }), 400, 'validation_failed');
    // Another org's cursor or id leaks nothing: a stranger's org path is a 404.
    const stranger = await register('inviter-pages-stranger');
    expectProblem(await call('GET', `/api/v1/orgs/${owner.orgId}/invitations?limit=2`, { token: stranger.token }), 404, 'org_not_found');
  });

  it('accepted twice at once, joins once: one 200, one 404, one member.join event', async () => {
    const owner = await register('inviter-race');
    const invitee = await register('racer');
    const { token, invitationId } = await invite(owner, owner.orgId, invitee.email, 'member');
    const results = await Promise.all([1, 2].map(() => call('POST', `/api/v1/invitations/${token}/accept`, { token: invitee.token })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 404]);
    expect(await memberRoles(owner, owner.orgId)).toEqual({ [owner.userId]: 'owner', [invitee.userId]: 'member' });
    const joins = await call('GET', `/api/v1/activity?action=member.join&target=${invitationId}`, { token: owner.token });
    expect(joins.body.data).toHaveLength(1);
  });

  it('rejects unknown tokens and bad invitation input', async () => {
    const owner = await register('inviter-4');
    expectProblem(await call('POST', `/api/v1/invitations/${'z'.repeat(43)}/accept`, { token: owner.token }), 404, 'invitation_not_found');
    const bad = expectProblem(
      await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token, body: { email: 'nope', role: 'emperor' } }),
      400,
      'validation_failed',
    );
    expect(bad.errors.map((e: { path: string }) => e.path).sort()).toEqual(['email', 'role']);
  });
});

describe('roles: what admins may not do', () => {
  it('an admin cannot invite admins or owners, but can invite members and viewers', async () => {
    const owner = await register('org-owner');
    const admin = await joinAs(owner, owner.orgId, 'admin', 'org-admin');
    for (const role of ['owner', 'admin']) {
      const problem = expectProblem(
        await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: admin.token, body: { email: uniqueEmail(), role } }),
        403,
        'forbidden',
      );
      expect(problem.detail).toContain(`Only an owner can manage ${role}s`);
    }
    for (const role of ['member', 'viewer']) {
      const res = await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: admin.token, body: { email: uniqueEmail(), role } });
      expect(res.status).toBe(201);
    }
  });

  it('only an owner can withdraw an invitation for an owner; an admin can withdraw those below admin', async () => {
    const owner = await register('org-owner-withdraw');
    const admin = await joinAs(owner, owner.orgId, 'admin', 'org-admin-withdraw');
    const forOwner = await invite(owner, owner.orgId, uniqueEmail('future-owner'), 'owner');
    const forAdmin = await invite(owner, owner.orgId, uniqueEmail('future-admin'), 'admin');
    const forViewer = await invite(owner, owner.orgId, uniqueEmail('future-viewer'), 'viewer');
    const withdraw = (who: { token: string }, invitationId: string) =>
      call('DELETE', `/api/v1/orgs/${owner.orgId}/invitations/${invitationId}`, { token: who.token });

    expect(expectProblem(await withdraw(admin, forOwner.invitationId), 403, 'forbidden').detail).toContain('Only an owner can manage owners');
    expectProblem(await withdraw(admin, forAdmin.invitationId), 403, 'forbidden');
    const pending = await call('GET', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token });
    expect(pending.body.data.map((i: { id: string }) => i.id)).toEqual(
      expect.arrayContaining([forOwner.invitationId, forAdmin.invitationId]),
    );
    expect((await withdraw(admin, forViewer.invitationId)).status).toBe(204);
    expect((await withdraw(owner, forOwner.invitationId)).status).toBe(204);
    // Another org's admin gets a 404 for this org's invitation, through either org's path.
    const stranger = await register('withdraw-stranger');
    expectProblem(await withdraw(stranger, forAdmin.invitationId), 404, 'org_not_found');
    expectProblem(await call('DELETE', `/api/v1/orgs/${stranger.orgId}/invitations/${forAdmin.invitationId}`, { token: stranger.token }), 404, 'invitation_not_found');
  });

  it('an admin cannot promote anyone to admin or owner, nor touch owners or other admins', async () => {
    const owner = await register('org-owner-2');
    const admin = await joinAs(owner, owner.orgId, 'admin', 'org-admin-2');
    const otherAdmin = await joinAs(owner, owner.orgId, 'admin', 'org-admin-3');
    const member = await joinAs(owner, owner.orgId, 'member', 'org-member');
    const ownerMemberId = await membershipId(owner, owner.orgId, owner.userId);
    const patch = (memberId: string, role: string) =>
      call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${memberId}`, { token: admin.token, body: { role } });

    expectProblem(await patch(member.memberId, 'admin'), 403, 'forbidden');
    expectProblem(await patch(member.memberId, 'owner'), 403, 'forbidden');
    expectProblem(await patch(ownerMemberId, 'viewer'), 403, 'forbidden');
    expectProblem(await patch(otherAdmin.memberId, 'member'), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${ownerMemberId}`, { token: admin.token }), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${otherAdmin.memberId}`, { token: admin.token }), 403, 'forbidden');
    // Even themselves: an admin cannot make themselves owner.
    expectProblem(await patch(admin.memberId, 'owner'), 403, 'forbidden');

    expect(await memberRoles(owner, owner.orgId)).toEqual({
      [owner.userId]: 'owner',
      [admin.userId]: 'admin',
      [otherAdmin.userId]: 'admin',
      [member.userId]: 'member',
    });

    // What an admin may do: move people below admin around, and remove them.
    expect((await patch(member.memberId, 'viewer')).body.role).toBe('viewer');
    expect((await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${member.memberId}`, { token: admin.token })).status).toBe(204);
  });

  it('an owner can promote to owner and demote an admin', async () => {
    const owner = await register('org-owner-3');
    const admin = await joinAs(owner, owner.orgId, 'admin', 'promoted');
    const res = await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${admin.memberId}`, { token: owner.token, body: { role: 'owner' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: admin.memberId, userId: admin.userId, email: admin.email, role: 'owner' });
    const back = await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${admin.memberId}`, { token: owner.token, body: { role: 'member' } });
    expect(back.body.role).toBe('member');
  });
});

describe('the last owner', () => {
  it('cannot be demoted or removed (409 last_owner), by themselves or anyone', async () => {
    const owner = await register('last-owner');
    const ownerMemberId = await membershipId(owner, owner.orgId, owner.userId);
    for (const role of ['admin', 'member', 'viewer']) {
      expectProblem(
        await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${ownerMemberId}`, { token: owner.token, body: { role } }),
        409,
        'last_owner',
      );
    }
    expectProblem(await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${ownerMemberId}`, { token: owner.token }), 409, 'last_owner');
    expect(await memberRoles(owner, owner.orgId)).toEqual({ [owner.userId]: 'owner' });
    // Re-asserting the same role is not a demotion.
    expect((await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${ownerMemberId}`, { token: owner.token, body: { role: 'owner' } })).status).toBe(200);
  });

  it('two owners demoting each other at once leave one owner standing', async () => {
    const first = await register('duel-1');
    const second = await joinAs(first, first.orgId, 'owner', 'duel-2');
    const firstMemberId = await membershipId(first, first.orgId, first.userId);
    const [a, b] = await Promise.all([
      call('PATCH', `/api/v1/orgs/${first.orgId}/members/${second.memberId}`, { token: first.token, body: { role: 'admin' } }),
      call('PATCH', `/api/v1/orgs/${first.orgId}/members/${firstMemberId}`, { token: second.token, body: { role: 'admin' } }),
    ]);
    // The loser is refused either as no longer an owner (403) or by the last-owner guard (409),
    // depending on which check the interleaving reaches first; never both succeed.
    const [winner, loser] = a.status === 200 ? [a, b] : [b, a];
    expect(winner.status).toBe(200);
    expect([403, 409]).toContain(loser.status);
    const roles = Object.values(await memberRoles(a.status === 200 ? first : second, first.orgId));
    expect(roles.sort()).toEqual(['admin', 'owner']);
  });

  it('can step down or leave once another owner exists', async () => {
    const owner = await register('stepping-down');
    const heir = await joinAs(owner, owner.orgId, 'owner', 'heir');
    const ownerMemberId = await membershipId(owner, owner.orgId, owner.userId);
    const demoted = await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${ownerMemberId}`, { token: owner.token, body: { role: 'admin' } });
    expect(demoted.body.role).toBe('admin');
    // Now the heir is the last owner.
    expectProblem(await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${heir.memberId}`, { token: heir.token }), 409, 'last_owner');
    expect((await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${ownerMemberId}`, { token: owner.token })).status).toBe(204);
    expect(await memberRoles(heir, owner.orgId)).toEqual({ [heir.userId]: 'owner' });
    // Having left, the old owner no longer sees the org.
    expectProblem(await call('GET', `/api/v1/orgs/${owner.orgId}`, { token: owner.token }), 404, 'org_not_found');
  });
});

describe('members', () => {
  it('lists members with their roles, paginated', async () => {
    const owner = await register('roster');
    const a = await joinAs(owner, owner.orgId, 'member', 'roster-a');
    const b = await joinAs(owner, owner.orgId, 'viewer', 'roster-b');
    const first = await call('GET', `/api/v1/orgs/${owner.orgId}/members?limit=2`, { token: b.token });
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    const second = await call('GET', `/api/v1/orgs/${owner.orgId}/members?limit=2&cursor=${first.body.nextCursor}`, { token: b.token });
    expect(second.body.nextCursor).toBeNull();
    const all = [...first.body.data, ...second.body.data];
    expect(all.map((m: { userId: string }) => m.userId).sort()).toEqual([owner.userId, a.userId, b.userId].sort());
    expect(all.find((m: { userId: string }) => m.userId === a.userId)).toMatchObject({ email: a.email, name: 'roster-a', role: 'member' });
  });

  it('anyone can leave (remove their own membership) without management rights', async () => {
    const owner = await register('leave-org');
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'leaver');
    expect((await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${viewer.memberId}`, { token: viewer.token })).status).toBe(204);
    expectProblem(await call('GET', '/api/v1/bots', { token: viewer.token, orgId: owner.orgId }), 404, 'org_not_found');
    // Back to one org: X-Org-Id is optional again.
    expect((await call('GET', '/api/v1/bots', { token: viewer.token })).status).toBe(200);
  });

  it('answers an unknown member id with 404', async () => {
    const owner = await register('ghost-member');
    expectProblem(
      await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/mem_01JD3X0000000000000000000`, { token: owner.token, body: { role: 'viewer' } }),
      404,
      'member_not_found',
    );
    expectProblem(await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/mem_01JD3X0000000000000000000`, { token: owner.token }), 404, 'member_not_found');
  });
});
