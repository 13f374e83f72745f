/**
 * RFC 9457 problem details. Every error response in KyroChat is built here, so the wire
 * shape is the same everywhere: type, title, status, detail, code, requestId and, for
 * validation failures, errors[] with field paths.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface FieldError {
  path: string;
  message: string;
  code?: string;
}

export interface ProblemInit {
  status: ContentfulStatusCode;
  code: string;
  title: string;
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** Extra members specific to the problem type (e.g. `accepted` media types). */
  extensions?: Record<string, unknown>;
  /** Why it happened, for logs only: never serialized. */
  internal?: string;
}

export const PROBLEM_BASE = 'https://kyrochat.dev/problems/';

export class ApiError extends Error {
  readonly init: ProblemInit;
  constructor(init: ProblemInit) {
    super(init.internal ?? init.detail ?? init.title);
    this.name = 'ApiError';
    this.init = init;
  }
  get status() {
    return this.init.status;
  }
  get code() {
    return this.init.code;
  }
}

export function problemBody(init: ProblemInit, requestId: string | undefined) {
  return {
    // Extensions first: RFC 9457's members (and ours) always win over an extension of that name.
    ...(init.extensions ?? {}),
    type: PROBLEM_BASE + init.code,
    title: init.title,
    status: init.status,
    detail: init.detail ?? init.title,
    code: init.code,
    requestId: requestId ?? null,
    ...(init.errors ? { errors: init.errors } : {}),
  };
}

export function problemResponse(c: Context, init: ProblemInit): Response {
  const body = problemBody(init, c.get('requestId'));
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/problem+json; charset=utf-8');
  return new Response(JSON.stringify(body), { status: init.status, headers });
}

// Constructors for the problems every feature raises. Feature-specific problems pass their
// own code to `new ApiError`.
export const badRequest = (detail: string, code = 'bad_request', errors?: FieldError[]) =>
  new ApiError({ status: 400, code, title: 'Bad request', detail, errors });

export const validationFailed = (errors: FieldError[]) =>
  new ApiError({
    status: 400,
    code: 'validation_failed',
    title: 'Validation failed',
    detail: `The request has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}.`,
    errors,
  });

export const unauthorized = (detail = 'Authentication is required.', code = 'unauthorized') =>
  new ApiError({ status: 401, code, title: 'Unauthorized', detail, headers: { 'www-authenticate': 'Bearer' } });

export const forbidden = (detail = 'You are not allowed to do this.', code = 'forbidden') =>
  new ApiError({ status: 403, code, title: 'Forbidden', detail });

export const notFound = (what = 'Resource', code = 'not_found') =>
  new ApiError({ status: 404, code, title: 'Not found', detail: `${what} was not found.` });

export const conflict = (detail: string, code = 'conflict') =>
  new ApiError({ status: 409, code, title: 'Conflict', detail });

export const unsupportedMediaType = (accepted: string[], detail?: string) =>
  new ApiError({
    status: 415,
    code: 'unsupported_media_type',
    title: 'Unsupported media type',
    detail: detail ?? `Send the body as one of: ${accepted.join(', ')}.`,
    extensions: { accepted },
  });

/**
 * 429 for a used-up quota, naming it (`quota`) so clients can tell which; Retry-After only
 * when waiting helps (the source count does not renew with time).
 */
export const quotaExceeded = (q: { quota: string; limit: number; used: number; retryAfterSeconds: number | null }) =>
  new ApiError({
    status: 429,
    code: 'quota_exceeded',
    title: 'Quota exceeded',
    detail:
      q.retryAfterSeconds === null
        ? `This would exceed the organization's ${q.quota} quota (${q.limit}).`
        : `The organization's ${q.quota} quota (${q.limit}) is used up. Try again in ${q.retryAfterSeconds} seconds.`,
    headers: q.retryAfterSeconds === null ? undefined : { 'retry-after': String(q.retryAfterSeconds) },
    extensions: { quota: q.quota, limit: q.limit, used: q.used },
  });
