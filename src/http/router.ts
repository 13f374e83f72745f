/**
 * The one router factory every feature uses: same bindings type, same validation hook
 * (zod failures become a 400 problem listing every bad field with its path).
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import type { AppBindings } from './types';
import { validationFailed, type FieldError } from './problem';

export function fieldErrors(error: ZodError, target?: string): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return {
      path: target && target !== 'json' ? `${target}${path ? '.' + path : ''}` : path || '(body)',
      message: issue.message,
      code: issue.code,
    };
  });
}

export function createRouter() {
  return new OpenAPIHono<AppBindings>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const target = (result as { target?: string }).target;
        throw validationFailed(fieldErrors(result.error as ZodError, target));
      }
      return undefined;
    },
  });
}

export type Router = ReturnType<typeof createRouter>;

/** A required JSON request body (required makes the validator run on every request). */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    required: true,
    description,
    content: { 'application/json': { schema } },
  } as const;
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

export const ProblemSchema = z
  .object({
    type: z.string().url(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string().nullable(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  })
  .openapi('Problem');

const problem = (description: string) =>
  ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } }) as const;

/**
 * Every error status the API answers with, each described in its own words for the OpenAPI
 * document. Routes list the ones they can return: `409: errorResponses[409]`.
 */
export const errorResponses = {
  400: problem('Invalid request: malformed JSON, or fields that fail validation (each listed in `errors` with its path)'),
  401: problem('Not authenticated: the bearer token or API key is missing, expired or revoked'),
  403: problem('Not allowed: your role or the API key\'s scopes do not permit this'),
  404: problem('Not found, or it belongs to another organization'),
  409: problem('Conflict with the current state (for example a duplicate, or the last owner)'),
  412: problem('Precondition failed: If-Match does not match the current ETag'),
  413: problem('Payload too large: the request body is over the limit'),
  415: problem('Unsupported media type: send the Content-Type this operation takes'),
  422: problem('Unprocessable: well-formed, but cannot be applied (for example an Idempotency-Key reused with another body)'),
  429: problem('Too many requests: a rate limit or quota is exhausted (see Retry-After)'),
  502: problem('Bad gateway: an upstream provider failed'),
  503: problem('Service unavailable: a dependency is down; retry later'),
} as const;

/** The error responses most routes can return, for the OpenAPI document. */
export const commonErrors = {
  400: errorResponses[400],
  401: errorResponses[401],
  403: errorResponses[403],
  404: errorResponses[404],
  429: errorResponses[429],
} as const;

export const PaginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z.string().max(200).optional(),
});

export const IdParam = <N extends string>(name: N, prefix: string) => {
  const schema = z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' }, example: `${prefix}_01JD3X0000000000000000000` });
  return z.object({ [name]: schema } as Record<N, typeof schema>);
};

export function page<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() });
}
