/**
 * Outbound fetches for crawling, through the egress guard (src/egress): every URL and every
 * redirect hop is checked against the egress policy before the fetcher sees it (the
 * WEB_FETCHER binding when configured, an egress proxy in production and the test site in
 * tests; plain fetch otherwise). Pages are capped in size and time, and a crawl can be kept
 * on one site. Failures come back as results with a reason and whether a retry can help.
 */
import { loadConfig, type Env } from '../../env';
import { EGRESS } from '../../limits';
import { EgressError, checkUrl, fetcherFromBinding, guardedFetch } from '../../egress';

export const CRAWLER_USER_AGENT = 'KyroChatBot/1.0 (+https://kyrochat.dev/bot)';
const ACCEPT = 'text/html,application/xhtml+xml,text/plain,text/markdown,application/pdf;q=0.9,*/*;q=0.5';

export type FetchedPage =
  | { ok: true; url: string; status: number; contentType: string; contentTypeHeader: string | null; bytes: Uint8Array }
  | { ok: false; url: string; status: number; reason: string; transient: boolean };

const tooLarge = `The page is larger than ${EGRESS.crawlMaxResponseBytes} bytes.`;

export async function fetchPage(env: Env, rawUrl: string, opts: { sameOriginAs?: string } = {}): Promise<FetchedPage> {
  const config = loadConfig(env);
  if (!config.ok) throw new Error('configuration invalid');
  const policy = config.config.egress;
  const origin = opts.sameOriginAs ? new URL(opts.sameOriginAs).origin : undefined;
  const start = checkUrl(rawUrl, policy);
  if (start.ok && origin && start.url.origin !== origin) {
    return { ok: false, url: rawUrl, status: 0, reason: 'Redirected to another site.', transient: false };
  }

  let response: Response;
  let url: string;
  try {
    const fetched = await guardedFetch(
      rawUrl,
      { headers: { 'user-agent': CRAWLER_USER_AGENT, accept: ACCEPT } },
      {
        policy,
        fetcher: fetcherFromBinding(env.WEB_FETCHER),
        timeoutMs: EGRESS.crawlTimeoutMs,
        maxBytes: EGRESS.crawlMaxResponseBytes,
        allowRedirect: origin ? (to) => to.origin === origin : undefined,
      },
    );
    response = fetched.response;
    url = fetched.url.toString();
  } catch (err) {
    return failure(err, rawUrl);
  }

  if (!response.ok) {
    await response.body?.cancel();
    return { ok: false, url, status: response.status, reason: `The server answered HTTP ${response.status}.`, transient: response.status === 429 || response.status >= 500 };
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    return failure(err, url, response.status);
  }
  const contentType = (response.headers.get('content-type') ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
  return { ok: true, url, status: response.status, contentType, contentTypeHeader: response.headers.get('content-type'), bytes };
}

function failure(err: unknown, url: string, status = 0): FetchedPage {
  if (err instanceof EgressError) {
    const reason =
      err.code === 'egress_response_too_large'
        ? tooLarge
        : err.code === 'egress_redirect_refused'
          ? 'Redirected to another site.'
          : err.code === 'egress_too_many_redirects'
            ? 'Too many redirects.'
            : err.code === 'egress_timeout'
              ? 'Could not fetch (timeout).'
              : `Refused: ${err.message}`;
    return { ok: false, url: err.url, status, reason, transient: !err.permanent };
  }
  return { ok: false, url, status, reason: `Could not fetch (${err instanceof Error ? err.name : 'error'}).`, transient: true };
}
