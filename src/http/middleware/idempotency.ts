/**
 * `Idempotency-Key` on POSTs that create things (draft-ietf-httpapi-idempotency-key-header):
 * a client that lost the answer retries with the same key and gets the first result back,
 * marked `Idempotent-Replayed: true`, instead of a second bot, source or API key.
 *
 * - Scope: org + caller + method and path. The same key elsewhere is independent.
 * - Same key, same request (see `fingerprintRequest`) → the stored status and body.
 * - Same key, another request → 422 `idempotency_key_reused`.
 * - Same key while the first request is still running → 409 `idempotency_in_progress`.
 * - 5xx and 429 answers are not kept, so a retry after them runs again.
 * - Kept bodies are encrypted like tenant secrets: a created API key's secret is in one.
 *
 * Mount it per route (createRoute's `middleware`), after authentication and org resolution and
 * before validation: it reads the raw body first, which Hono caches for the validators.
 */
import { z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppBindings } from '../types';
import { ApiError, badRequest } from '../problem';
import { errorResponses } from '../router';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  fingerprintRequest,
  IDEMPOTENCY_KEY_PATTERN,
  releaseIdempotencyKey,
  type IdempotencyScope,
} from '../../features/idempotency/service';
import { IDEMPOTENCY } from '../../limits';
import { systemClock } from '../../lib/clock';
import { decryptSecret, encryptSecret, type SecretEnvelope } from '../../lib/secrets';

const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const REPLAYED_HEADER = 'idempotent-replayed';
/** Only these headers of the first response are replayed: the rest describe that moment. */
const REPLAYED_RESPONSE_HEADERS = ['content-type', 'location', 'etag'];

/** For the OpenAPI document: the optional header on every idempotent route. */
export const IdempotencyKeyHeaders = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: `Makes a retry safe: 1–${IDEMPOTENCY.maxKeyLength} printable ASCII characters, e.g. a UUID. The same key with the same body within 24 h returns the first response (with \`Idempotent-Replayed: true\`); with another body it is a 422.`,
      example: '9b2f1c1e-3d4a-4f6e-8a7b-0c1d2e3f4a5b',
    }),
});

/** The extra responses an idempotent route can give, for the OpenAPI document. */
export const idempotencyErrors = {
  409: { ...errorResponses[409], description: 'A request with this Idempotency-Key is still in progress (`idempotency_in_progress`), or a conflict specific to the route' },
  422: { ...errorResponses[422], description: 'This Idempotency-Key was already used with another request (`idempotency_key_reused`)' },
} as const;

export const idempotent = (): MiddlewareHandler<AppBindings> =>
  async function idempotent(c, next) {
    const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (key === undefined) return next();
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw badRequest(`Idempotency-Key must be 1 to ${IDEMPOTENCY.maxKeyLength} printable ASCII characters.`, 'invalid_idempotency_key', [
        { path: 'header.idempotency-key', message: `1 to ${IDEMPOTENCY.maxKeyLength} printable ASCII characters` },
      ]);
    }
    const actor = c.get('actor');
    const url = new URL(c.req.url);
    const scope: IdempotencyScope = {
      orgId: c.get('org').orgId,
      actorId: actor.kind === 'user' ? actor.userId : actor.keyId,
      route: `${c.req.method} ${url.pathname}`,
      key,
    };
    const body = new Uint8Array(await c.req.arrayBuffer());
    const fingerprint = await fingerprintRequest(c.req.method, url.pathname + url.search, c.req.header('content-type') ?? '', body);
    const db = c.get('db');
    const claim = await claimIdempotencyKey(db, systemClock, scope, fingerprint);

    switch (claim.status) {
      case 'mismatch':
        throw new ApiError({
          status: 422,
          code: 'idempotency_key_reused',
          title: 'Idempotency key reused',
          detail: 'This Idempotency-Key was already used with a different request. Use a new key for a new request.',
        });
      case 'in_progress':
        throw new ApiError({
          status: 409,
          code: 'idempotency_in_progress',
          title: 'Request in progress',
          detail: 'A request with this Idempotency-Key is still being processed. Retry in a moment.',
          headers: { 'retry-after': '1' },
        });
      case 'replay': {
        const headers = new Headers(claim.response.headers);
        headers.set(REPLAYED_HEADER, 'true');
        const replayed = await openBody(c, scope, claim.response.body);
        return new Response(replayed || null, { status: claim.response.status, headers });
      }
      case 'claimed':
        break;
    }

    try {
      await next();
    } catch (err) {
      await releaseQuietly(c, scope, fingerprint);
      throw err;
    }
    const res = c.res;
    // Failures on our side and rate limits are not the request's answer: let a retry run again.
    if (res.status >= 500 || res.status === 429) {
      await releaseQuietly(c, scope, fingerprint);
      return;
    }
    const text = await res.clone().text();
    if (new TextEncoder().encode(text).byteLength > IDEMPOTENCY.maxStoredBodyBytes) {
      await releaseQuietly(c, scope, fingerprint);
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_RESPONSE_HEADERS) {
      const value = res.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    try {
      const sealed = JSON.stringify(await encryptSecret(c.get('config'), text, aadFor(scope)));
      await completeIdempotencyKey(db, scope, fingerprint, { status: res.status, headers, body: sealed });
    } catch (err) {
      // The work is done and answered; a retry meets `in_progress` until the key is abandoned.
      logFailure(c, 'idempotency: storing the response failed', err);
    }
  };

const aadFor = (s: IdempotencyScope) => `idempotency:${s.orgId}:${s.actorId}:${s.route}:${s.key}`;

type AppContext = Parameters<MiddlewareHandler<AppBindings>>[0];

async function openBody(c: AppContext, scope: IdempotencyScope, sealed: string): Promise<string> {
  try {
    return await decryptSecret(c.get('config'), JSON.parse(sealed) as SecretEnvelope, aadFor(scope));
  } catch (err) {
    throw new ApiError({
      status: 503,
      code: 'idempotency_replay_unavailable',
      title: 'Service unavailable',
      detail: 'The first response to this Idempotency-Key cannot be read back right now.',
      internal: `replay decrypt failed: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
}

async function releaseQuietly(c: AppContext, scope: IdempotencyScope, fingerprint: string) {
  try {
    await releaseIdempotencyKey(c.get('db'), scope, fingerprint);
  } catch (err) {
    logFailure(c, 'idempotency: releasing the key failed', err);
  }
}

function logFailure(c: AppContext, msg: string, err: unknown) {
  console.error(
    JSON.stringify({ level: 'error', msg, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), requestId: c.get('requestId') }),
  );
}
