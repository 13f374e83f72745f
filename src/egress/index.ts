/**
 * The egress guard: every outbound request (crawler, model and embedding providers, and
 * later actions and webhooks) goes through `guardedFetch`, and every URL a tenant saves is
 * validated with `checkUrl` against the same policy.
 */
export { checkUrl, parseAllowHost, PUBLIC_ONLY, type AllowedHost, type EgressPolicy, type EgressRefusal, type UrlCheck } from './policy';
export {
  guardedFetch,
  egressFetch,
  fetcherFromBinding,
  EgressError,
  type EgressErrorCode,
  type EgressFetcher,
  type EgressOptions,
} from './guarded-fetch';
