/** Small client for integration tests: every call goes through the real Worker (SELF.fetch). */
import { SELF } from 'cloudflare:test';

export const BASE = 'https://kc.test';

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  orgId?: string;
  ip?: string;
}

export interface CallResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function call<T = any>(method: string, path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.orgId) headers['x-org-id'] = opts.orgId;
  if (opts.ip) headers['cf-connecting-ip'] = opts.ip;
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await SELF.fetch(BASE + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T };
}

let counter = 0;
export const uniqueEmail = (label = 'user') => `${label}-${Date.now().toString(36)}-${counter++}@example.com`;
export const PASSWORD = 'a-long-enough-password';

export interface Account {
  email: string;
  token: string;
  refreshToken: string;
  userId: string;
  orgId: string;
  botId: string;
}

export async function register(label = 'user', extra: Record<string, unknown> = {}): Promise<Account> {
  const email = uniqueEmail(label);
  const res = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, name: label, ...extra } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    email,
    token: res.body.accessToken,
    refreshToken: res.body.refreshToken,
    userId: res.body.user.id,
    orgId: res.body.organization.id,
    botId: res.body.bot.id,
  };
}

export async function createKey(account: Account, scopes: string[], name = 'test key'): Promise<string> {
  const res = await call('POST', '/api/v1/api-keys', { token: account.token, body: { name, scopes } });
  if (res.status !== 201) throw new Error(`key failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.key;
}

/** Asserts the RFC 9457 shape every error must have and returns the body. */
export function expectProblem(res: CallResult, status: number, code?: string) {
  const ct = res.headers.get('content-type') ?? '';
  const problems: string[] = [];
  if (res.status !== status) problems.push(`status ${res.status} != ${status} (${JSON.stringify(res.body)})`);
  if (!ct.startsWith('application/problem+json')) problems.push(`content-type ${ct}`);
  for (const field of ['type', 'title', 'status', 'detail', 'code', 'requestId']) {
    if (!(field in (res.body ?? {}))) problems.push(`missing ${field}`);
  }
  if (code && res.body?.code !== code) problems.push(`code ${res.body?.code} != ${code}`);
  if (problems.length) throw new Error(`not the expected problem: ${problems.join('; ')}`);
  return res.body;
}
