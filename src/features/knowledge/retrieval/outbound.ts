/**
 * The fetch the reranker uses until the egress guard (src/egress) takes over: public
 * http(s) URLs only, through the WEB_FETCHER binding when there is one (an egress proxy in
 * production, the test site in tests), plain fetch otherwise. No redirects are followed.
 */
import type { Env } from '../../../env';
import { checkPublicHttpUrl } from '../public-url';
import type { FetchLike } from './rerank';

export function outboundFetch(env: Env): FetchLike {
  const doFetch = env.WEB_FETCHER ? env.WEB_FETCHER.fetch.bind(env.WEB_FETCHER) : fetch;
  return async (url, init) => {
    const check = checkPublicHttpUrl(url);
    if (!check.ok) throw new TypeError(check.reason);
    return doFetch(url, { ...init, redirect: 'manual' });
  };
}
