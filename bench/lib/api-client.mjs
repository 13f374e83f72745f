/** The few public API calls benchmarks need to set themselves up, with readable failures. */
import { randomBytes } from 'node:crypto';

/**
 * Registers a fresh user (which creates their organization) and mints an org API key
 * through the public API, exactly as a customer would.
 * @returns {Promise<{ accessToken: string, apiKey: string, orgId: string }>}
 */
export async function registerAndCreateApiKey(baseUrl, { scopes = ['bots:read'] } = {}) {
  const email = `bench-${randomBytes(6).toString('hex')}@bench.kyrochat.test`;
  const registered = await postJson(baseUrl, '/api/v1/auth/register', {
    email,
    password: `bench-${randomBytes(12).toString('hex')}`,
    name: 'Benchmark',
  });
  const created = await postJson(
    baseUrl,
    '/api/v1/api-keys',
    { name: 'benchmark', scopes },
    { authorization: `Bearer ${registered.accessToken}` },
  );
  if (typeof created.key !== 'string') throw new Error(`POST /api/v1/api-keys returned no "key": ${JSON.stringify(created)}`);
  return { accessToken: registered.accessToken, apiKey: created.key, orgId: registered.organization?.id };
}

export async function getJson(baseUrl, path, headers = {}) {
  const res = await fetch(new URL(path, baseUrl), { headers });
  return parse(res, `GET ${path}`);
}

export async function postJson(baseUrl, path, body, headers = {}) {
  const res = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return parse(res, `POST ${path}`);
}

async function parse(res, what) {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what} answered ${res.status}: ${text.slice(0, 500)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}
