/**
 * ETag / If-Match for editable resources (bots, sources): the ETag is the row's `revision`,
 * which every write bumps. A PATCH with If-Match only applies while the revision is one of
 * those listed (or the resource exists, for `*`); otherwise 412 and nothing changes
 * (RFC 9110 §13.1.1: strong comparison, so weak tags never match).
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ApiError, type ProblemInit } from './problem';
import { ProblemSchema } from './router';

export const etagFor = (revision: number) => `"${revision}"`;

/** The revisions If-Match accepts; undefined when absent or `*` (existence is enough). */
export function ifMatchRevisions(c: Context): number[] | undefined {
  const header = c.req.header('if-match');
  if (header === undefined) return undefined;
  const tags = header.split(',').map((t) => t.trim());
  if (tags.includes('*')) return undefined;
  // A tag that is not one of ours (weak, malformed, foreign) matches no revision.
  return tags.flatMap((t) => {
    const m = /^"(\d{1,15})"$/.exec(t);
    return m ? [Number(m[1])] : [];
  });
}

export const preconditionFailed = (what: string) =>
  new ApiError({
    status: 412,
    code: 'precondition_failed',
    title: 'Precondition failed',
    detail: `The ${what} changed since the ETag you sent in If-Match. GET it again, re-apply your change and retry.`,
  } satisfies ProblemInit);

export const IfMatchHeaders = z.object({
  'if-match': z
    .string()
    .max(1000)
    .optional()
    .openapi({
      param: { name: 'if-match', in: 'header' },
      description: 'Apply the change only if the resource still has this ETag (or any, with `*`); otherwise 412.',
      example: '"3"',
    }),
});

/** If-None-Match on a GET with an ETag (matched by `ifNoneMatchHits`): a hit is a 304. */
export const IfNoneMatchHeaders = z.object({
  'if-none-match': z.string().max(1000).optional().openapi({ param: { name: 'if-none-match', in: 'header' } }),
});

export const etagResponseHeaders = {
  ETag: { description: 'The revision of the resource; send it back in If-Match to make a change conditional.', schema: { type: 'string' as const } },
};

export const preconditionFailedResponse = {
  412: {
    description: 'If-Match did not match the current ETag (`precondition_failed`)',
    content: { 'application/problem+json': { schema: ProblemSchema } },
  },
} as const;

/** A strong ETag over a response body's bytes (for read-only representations without a revision). */
export async function contentEtag(body: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)));
  return `"${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}"`;
}

/** Whether If-None-Match names `etag` (or `*`): weak comparison, as RFC 9110 §13.1.2 asks for GET. */
export function ifNoneMatchHits(c: Context, etag: string): boolean {
  const header = c.req.header('if-none-match');
  if (header === undefined) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === etag);
}
