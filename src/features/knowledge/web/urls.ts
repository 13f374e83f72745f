/**
 * URL rules for crawling. Normalization makes two spellings of one page one key: fragment and
 * credentials dropped, default port dropped, scheme and host lower-cased, dot segments
 * resolved (WHATWG URL does those two). The query is kept as written and not reordered, since
 * a site may give parameter order a meaning.
 */

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

const globCache = new Map<string, RegExp>();

/**
 * Glob for URL include/exclude rules: `*` matches any run of characters (including "/"), and
 * the pattern must match the whole target. A pattern starting with "http://" or "https://" is
 * matched against the whole URL; one containing "?" against path and query; any other against
 * the path alone, so `/docs/*` and `*.pdf` read the way they look.
 */
export function matchesUrlPattern(url: string | URL, pattern: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const target = /^https?:\/\//i.test(pattern)
    ? parsed.href
    : pattern.includes('?')
      ? parsed.pathname + parsed.search
      : parsed.pathname;
  let regex = globCache.get(pattern);
  if (!regex) {
    const source = pattern
      .split('*')
      .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${source}$`, /^https?:\/\//i.test(pattern) ? 'i' : '');
    if (globCache.size > 500) globCache.clear();
    globCache.set(pattern, regex);
  }
  return regex.test(target);
}

export interface UrlFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

/** Kept when it matches some include pattern (or there are none) and no exclude pattern. */
export function passesUrlFilter(url: string | URL, { include = [], exclude = [] }: UrlFilter): boolean {
  if (include.length && !include.some((pattern) => matchesUrlPattern(url, pattern))) return false;
  return !exclude.some((pattern) => matchesUrlPattern(url, pattern));
}
