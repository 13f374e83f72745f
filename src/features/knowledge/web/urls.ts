/**
 * URL rules for crawling. Normalization makes two spellings of one page one key: fragment and
 * credentials dropped, default port dropped, scheme and host lower-cased, dot segments
 * resolved (WHATWG URL does those two). The query is kept as written and not reordered, since
 * a site may give parameter order a meaning.
 */
import { compileWildcard, matchesWildcard, type WildcardPattern } from './wildcard';

/** Absolute normalized http(s) URL, or null for anything that is not a crawlable http(s) link. */
export function normalizeUrl(input: string, base?: string | URL): string | null {
  let url: URL;
  try {
    url = new URL(input.trim(), base);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.hash = '';
  url.username = '';
  url.password = '';
  // An empty query ("?") names the same resource as none; assigning '' removes it.
  if (url.search === '') url.search = '';
  return url.href;
}

export function isSameOrigin(a: string | URL, b: string | URL): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** A compiled include/exclude glob and which part of a URL it is matched against. */
interface UrlGlob {
  wildcard: WildcardPattern;
  target: 'href' | 'pathAndQuery' | 'path';
}

const globCache = new Map<string, UrlGlob>();
/** Bounds the cache: patterns come from tenants' source configs, a few dozen per crawl. */
const GLOB_CACHE_ENTRIES = 500;

function compileUrlGlob(pattern: string): UrlGlob {
  let glob = globCache.get(pattern);
  if (!glob) {
    const wholeUrl = /^https?:\/\//i.test(pattern);
    glob = {
      wildcard: compileWildcard(wholeUrl ? pattern.toLowerCase() : pattern, { anchoredEnd: true }),
      target: wholeUrl ? 'href' : pattern.includes('?') ? 'pathAndQuery' : 'path',
    };
    if (globCache.size >= GLOB_CACHE_ENTRIES) globCache.clear();
    globCache.set(pattern, glob);
  }
  return glob;
}

/**
 * Glob for URL include/exclude rules: `*` matches any run of characters (including "/"), and
 * the pattern must match the whole target. A pattern starting with "http://" or "https://" is
 * matched, case-insensitively, against the whole URL; one containing "?" against path and
 * query; any other against the path alone, so `/docs/*` and `*.pdf` read the way they look.
 */
export function matchesUrlPattern(url: string | URL, pattern: string): boolean {
  const parsed = parseUrl(url);
  return parsed ? matchesParsed(parsed, pattern) : false;
}

function parseUrl(url: string | URL): URL | null {
  if (url instanceof URL) return url;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

function matchesParsed(parsed: URL, pattern: string): boolean {
  const glob = compileUrlGlob(pattern);
  const target = glob.target === 'href' ? parsed.href.toLowerCase() : glob.target === 'pathAndQuery' ? parsed.pathname + parsed.search : parsed.pathname;
  return matchesWildcard(glob.wildcard, target);
}

export interface UrlFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

/** Kept when it matches some include pattern (or there are none) and no exclude pattern. */
export function passesUrlFilter(url: string | URL, { include = [], exclude = [] }: UrlFilter): boolean {
  if (include.length === 0 && exclude.length === 0) return true;
  const parsed = parseUrl(url);
  // Nothing matches an unparsable URL: it passes only when there is no include list.
  if (!parsed) return include.length === 0;
  if (include.length && !include.some((pattern) => matchesParsed(parsed, pattern))) return false;
  return !exclude.some((pattern) => matchesParsed(parsed, pattern));
}
