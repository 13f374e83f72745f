import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createKey, register } from '../support/api';
import { joinAs } from '../support/accounts';

describe('health', () => {
  it('answers liveness without revealing anything', async () => {
    const res = await SELF.fetch('https://kc.test/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });
});

describe('readiness', () => {
  it('tells anyone only the verdict', async () => {
    const res = await SELF.fetch('https://kc.test/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('shows per-check details to an admin of an org, by token or admin-scoped key', async () => {
    const owner = await register('ready-owner');
    const asOwner = await call('GET', '/health/ready', { token: owner.token });
    expect(asOwner.status).toBe(200);
    expect(asOwner.body).toEqual({
      status: 'ready',
      checks: {
        d1: { ok: true, latencyMs: expect.any(Number) },
        r2: { ok: true, latencyMs: expect.any(Number) },
      },
    });
    const key = await createKey(owner, ['admin']);
    expect((await call('GET', '/health/ready', { token: key })).body.checks).toBeDefined();
  });

  it('hides the details from members, narrow keys and bad tokens, without failing the probe', async () => {
    const owner = await register('ready-owner-2');
    const member = await joinAs(owner, owner.orgId, 'member', 'ready-member');
    expect((await call('GET', '/health/ready', { token: member.token, orgId: owner.orgId })).body).toEqual({ status: 'ready' });
    const narrowKey = await createKey(owner, ['bots:read']);
    expect((await call('GET', '/health/ready', { token: narrowKey })).body).toEqual({ status: 'ready' });
    const bad = await call('GET', '/health/ready', { token: 'garbage' });
    expect(bad.status).toBe(200);
    expect(bad.body).toEqual({ status: 'ready' });
  });
});
