/**
 * The one way KyroChat makes an outbound request. The URL is checked against the egress
 * policy before any fetcher sees it, redirects are followed by hand so that every hop is
 * checked again, the whole exchange has a deadline, and the response body can be capped.
 *
 * Failures throw EgressError with a stable `code`; callers that expect them (the crawler)
 * turn them into results, and an SDK that takes a `fetch` (the OpenAI client) sees a failed
 * fetch whose `cause` says why.
 */
import { EGRESS } from '../limits';
import { checkUrl, type EgressPolicy, type EgressRefusal } from './policy';

export type EgressErrorCode =
  | 'egress_refused'
  | 'egress_redirect_refused'
  | 'egress_too_many_redirects'
  | 'egress_timeout'
  | 'egress_response_too_large';

export class EgressError extends Error {
  override readonly name = 'EgressError';
  constructor(
    readonly code: EgressErrorCode,
    message: string,
    /** The URL that was refused or failed (after redirects). */
    readonly url: string,
    readonly refusal?: EgressRefusal,
  ) {
    super(message);
  }

  /** Asking again cannot change the answer, except after a timeout. */
  get permanent(): boolean {
    return this.code !== 'egress_timeout';
  }
}

/** Where requests actually go: a service binding (an egress proxy, the test site) or the global fetch. */
export type EgressFetcher = (url: string, init: RequestInit) => Promise<Response>;

export const fetcherFromBinding = (binding: Fetcher | undefined): EgressFetcher =>
  binding ? (url, init) => binding.fetch(url, init as RequestInit<CfProperties>) : (url, init) => fetch(url, init);

export interface EgressOptions {
  policy: EgressPolicy;
  fetcher?: EgressFetcher;
  maxRedirects?: number;
  timeoutMs?: number;
  /** Responses larger than this fail with `egress_response_too_large` (declared or while reading). */
  maxBytes?: number;
  /** Extra rule for redirect hops (the crawler stays on one site); false refuses the hop. */
  allowRedirect?: (to: URL, from: URL) => boolean;
}

export interface EgressResponse {
  response: Response;
  /** The URL that answered, after redirects. */
  url: URL;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that must not follow a redirect to another origin (the fetch standard drops Authorization too). */
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

export async function guardedFetch(input: string | URL, init: RequestInit = {}, options: EgressOptions): Promise<EgressResponse> {
  const first = checkUrl(input, options.policy);
  if (!first.ok) throw new EgressError('egress_refused', first.refusal.reason, String(input), first.refusal);

  const fetcher = options.fetcher ?? ((url, requestInit) => fetch(url, requestInit));
  const maxRedirects = options.maxRedirects ?? EGRESS.maxRedirects;
  const deadline = AbortSignal.timeout(options.timeoutMs ?? EGRESS.defaultTimeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;

  let url = first.url;
  let method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  // Buffered once so that a 307/308 can send it again.
  let body: ArrayBuffer | null = init.body == null ? null : await new Response(init.body).arrayBuffer();

  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetcher(url.toString(), { method, headers, body, redirect: 'manual', signal });
    } catch (error) {
      if (deadline.aborted && !init.signal?.aborted) {
        throw new EgressError('egress_timeout', `no answer within ${options.timeoutMs ?? EGRESS.defaultTimeoutMs} ms`, url.toString());
      }
      throw error;
    }

    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return { response: capped(response, options.maxBytes, url), url };
    }
    await response.body?.cancel();
    if (hop >= maxRedirects) throw new EgressError('egress_too_many_redirects', `more than ${maxRedirects} redirects`, url.toString());

    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new EgressError('egress_redirect_refused', 'redirected to an invalid URL', url.toString());
    }
    const check = checkUrl(next, options.policy);
    if (!check.ok) throw new EgressError('egress_refused', `redirected to a refused URL: ${check.refusal.reason}`, next.toString(), check.refusal);
    if (options.allowRedirect && !options.allowRedirect(check.url, url)) {
      throw new EgressError('egress_redirect_refused', 'redirected to another site', next.toString());
    }

    // Fetch standard, "HTTP-redirect fetch": 303 turns anything but HEAD into a bodiless GET,
    // and so do 301/302 for a POST; 307/308 repeat the request as it was.
    const toGet = (response.status === 303 && method !== 'GET' && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST');
    if (toGet) {
      method = 'GET';
      body = null;
      for (const name of BODY_HEADERS) headers.delete(name);
    }
    if (check.url.origin !== url.origin) for (const name of ORIGIN_BOUND_HEADERS) headers.delete(name);
    url = check.url;
  }
}

/** A Response whose body errors once it passes `maxBytes`; the declared length is checked at once. */
function capped(response: Response, maxBytes: number | undefined, url: URL): Response {
  if (maxBytes === undefined || !response.body) return response;
  const tooLarge = () => new EgressError('egress_response_too_large', `the response is larger than ${maxBytes} bytes`, url.toString());
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    void response.body.cancel();
    throw tooLarge();
  }
  let total = 0;
  const limited = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > maxBytes) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** `guardedFetch` shaped as `fetch`, for SDKs that take one (the OpenAI client). */
export function egressFetch(options: EgressOptions): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : input;
    const requestInit = input instanceof Request ? { method: input.method, headers: input.headers, body: input.body, signal: input.signal, ...init } : init;
    return (await guardedFetch(url, requestInit, options)).response;
  };
}
