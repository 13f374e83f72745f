/**
 * Outbound fetches for crawling: through the WEB_FETCHER binding when one is configured (an
 * egress proxy in production, the test site in tests), plain fetch otherwise. Redirects are
 * followed by hand so every hop is checked against the public-URL rules, bodies are capped,
 * and every request has a timeout.
 */
import type { Env } from '../../env';
import { checkPublicHttpUrl } from './public-url';

export const CRAWLER_USER_AGENT = 'KyroChatBot/1.0 (+https://kyrochat.dev/bot)';
const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 15_000;
export const MAX_PAGE_BYTES = 5 * 1024 * 1024;

export type FetchedPage =
  | { ok: true; url: string; status: number; contentType: string; contentTypeHeader: string | null; bytes: Uint8Array }
  | { ok: false; url: string; status: number; reason: string; transient: boolean };

export async function fetchPage(env: Env, rawUrl: string, opts: { sameOriginAs?: string } = {}): Promise<FetchedPage> {
  const doFetch = env.WEB_FETCHER ? env.WEB_FETCHER.fetch.bind(env.WEB_FETCHER) : fetch;
  let url = rawUrl;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const check = checkPublicHttpUrl(url);
    if (!check.ok) return { ok: false, url, status: 0, reason: check.reason, transient: false };
    if (opts.sameOriginAs && new URL(url).origin !== new URL(opts.sameOriginAs).origin) {
      return { ok: false, url, status: 0, reason: 'Redirected to another site.', transient: false };
    }
    let res: Response;
    try {
      res = await doFetch(url, {
        redirect: 'manual',
        headers: { 'user-agent': CRAWLER_USER_AGENT, accept: 'text/html,application/xhtml+xml,text/plain,text/markdown,application/pdf;q=0.9,*/*;q=0.5' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      return { ok: false, url, status: 0, reason: `Could not fetch (${err instanceof Error ? err.name : 'error'}).`, transient: true };
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      url = new URL(res.headers.get('location')!, url).toString();
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, url, status: res.status, reason: `The server answered HTTP ${res.status}.`, transient: res.status === 429 || res.status >= 500 };
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > MAX_PAGE_BYTES) {
      await res.body?.cancel();
      return { ok: false, url, status: res.status, reason: `The page is larger than ${MAX_PAGE_BYTES} bytes.`, transient: false };
    }
    const bytes = await readCapped(res, MAX_PAGE_BYTES);
    if (!bytes) return { ok: false, url, status: res.status, reason: `The page is larger than ${MAX_PAGE_BYTES} bytes.`, transient: false };
    const contentType = (res.headers.get('content-type') ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
    return { ok: true, url, status: res.status, contentType, contentTypeHeader: res.headers.get('content-type'), bytes };
  }
  return { ok: false, url, status: 0, reason: 'Too many redirects.', transient: false };
}

async function readCapped(res: Response, max: number): Promise<Uint8Array | null> {
  if (!res.body) return new Uint8Array();
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      return null;
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
