/**
 * robots.txt per RFC 9309 (https://www.rfc-editor.org/rfc/rfc9309): groups chosen by
 * case-insensitive product token with "*" as fallback (all matching groups merged), rules
 * matched on path + query with `*` and a trailing `$`, the longest match deciding and an allow
 * winning a tie, /robots.txt always allowed. Sitemap lines are global. Crawl-delay is not in the
 * RFC but is widely used, so it is read from the chosen groups.
 */
import { ROBOTS_TXT_MAX_BYTES, WILDCARD_MAX_PER_PATTERN } from '../../../limits';
import { normalizeUrl } from './urls';
import { compileWildcard, matchesWildcard, widenWildcard } from './wildcard';

export interface RobotsPolicy {
  /** Accepts a path ("/docs?x=1") or an absolute URL (its path and query are used). */
  isAllowed(pathOrUrl: string): boolean;
  readonly sitemaps: readonly string[];
  readonly crawlDelaySeconds?: number;
}

interface Rule {
  allow: boolean;
  /** Match priority: the length of the (normalized) pattern. */
  length: number;
  matches(path: string): boolean;
}

interface Group {
  agents: string[];
  rules: Rule[];
  crawlDelaySeconds?: number;
}

/** Percent-encodes what is not printable ASCII and upper-cases existing escapes, so a pattern
 * and a path written differently (é vs %C3%A9, %c3 vs %C3) compare equal. */
function canonicalPath(value: string): string {
  // Most paths are printable ASCII without escapes: skip the per-character rebuild for them.
  let out = value;
  let plain = true;
  for (let i = 0; i < value.length && plain; i++) plain = value.charCodeAt(i) > 0x20 && value.charCodeAt(i) < 0x7f;
  if (!plain) {
    out = '';
    for (const char of value) {
      const code = char.codePointAt(0)!;
      out += code > 0x20 && code < 0x7f ? char : encodeURIComponent(char);
    }
  }
  return out.includes('%') ? out.replace(/%[0-9a-f]{2}/gi, (escape) => escape.toUpperCase()) : out;
}

function compileRule(allow: boolean, rawPattern: string): Rule | null {
  let pattern = canonicalPath(rawPattern);
  if (!pattern.startsWith('/') && !pattern.startsWith('*')) pattern = `/${pattern}`;
  const anchoredEnd = pattern.endsWith('$');
  let compiled = compileWildcard(anchoredEnd ? pattern.slice(0, -1) : pattern, { anchoredEnd });
  if (compiled.literals.length - 1 > WILDCARD_MAX_PER_PATTERN) {
    // A hostile file's rule over the cap: err towards crawling less (see WILDCARD_MAX_PER_PATTERN).
    if (allow) return null;
    compiled = widenWildcard(compiled, WILDCARD_MAX_PER_PATTERN);
  }
  return { allow, length: pattern.length, matches: (path) => matchesWildcard(compiled, path) };
}

/** "KyroChatBot/1.0 (+https://…)" → "kyrochatbot". */
const productToken = (userAgent: string) => userAgent.trim().split(/[\s/]/)[0]!.toLowerCase();

const KEY_ALIASES: Record<string, string> = {
  'user-agent': 'user-agent',
  useragent: 'user-agent',
  'user agent': 'user-agent',
  allow: 'allow',
  disallow: 'disallow',
  sitemap: 'sitemap',
  'site-map': 'sitemap',
  'crawl-delay': 'crawl-delay',
};

function parseGroups(text: string, baseUrl: string | undefined) {
  const groups: Group[] = [];
  const sitemaps = new Set<string>();
  let current: Group | null = null;
  let previousWasAgent = false;
  for (const rawLine of text.split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/#.*/, '').trim();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = KEY_ALIASES[line.slice(0, colon).trim().toLowerCase()];
    const value = line.slice(colon + 1).trim();
    if (key === 'user-agent') {
      if (!current || !previousWasAgent) {
        current = { agents: [], rules: [] };
        groups.push(current);
      }
      current.agents.push(productToken(value) || value.toLowerCase());
      previousWasAgent = true;
    } else if (key === 'allow' || key === 'disallow') {
      // Rules before any user-agent line belong to no group (RFC 9309 §2.2).
      const rule = current && value ? compileRule(key === 'allow', value) : null;
      if (rule) current!.rules.push(rule);
      previousWasAgent = false;
    } else if (key === 'crawl-delay') {
      const seconds = Number(value);
      if (current && Number.isFinite(seconds) && seconds >= 0) current.crawlDelaySeconds = seconds;
      previousWasAgent = false;
    } else if (key === 'sitemap') {
      const url = normalizeUrl(value, baseUrl);
      if (url) sitemaps.add(url);
    }
  }
  return { groups, sitemaps: [...sitemaps] };
}

function pathOf(pathOrUrl: string): string {
  if (pathOrUrl.startsWith('/')) return pathOrUrl;
  if (/^https?:\/\//i.test(pathOrUrl)) {
    try {
      const url = new URL(pathOrUrl);
      return url.pathname + url.search;
    } catch {
      return pathOrUrl;
    }
  }
  return `/${pathOrUrl}`;
}

function policyFromRules(rules: readonly Rule[], sitemaps: readonly string[], crawlDelaySeconds?: number): RobotsPolicy {
  return {
    sitemaps,
    crawlDelaySeconds,
    isAllowed(pathOrUrl) {
      const path = canonicalPath(pathOf(pathOrUrl));
      if (path === '/robots.txt') return true;
      let best: Rule | null = null;
      for (const rule of rules) {
        if (!rule.matches(path)) continue;
        if (!best || rule.length > best.length || (rule.length === best.length && rule.allow)) best = rule;
      }
      return best ? best.allow : true;
    },
  };
}

/**
 * The policy robots.txt `text` sets for `userAgent`. `robotsUrl` (where it was fetched) lets
 * relative Sitemap lines resolve; without it only absolute ones are kept.
 */
export function parseRobotsTxt(text: string, userAgent: string, robotsUrl?: string): RobotsPolicy {
  // Crawlers must read at least 500 KiB; anything beyond may be ignored (RFC 9309 §2.5).
  const bounded = (text.length > ROBOTS_TXT_MAX_BYTES ? text.slice(0, ROBOTS_TXT_MAX_BYTES) : text).replace(/^\ufeff/, '');
  const { groups, sitemaps } = parseGroups(bounded, robotsUrl);
  const token = productToken(userAgent);
  let chosen = groups.filter((group) => group.agents.includes(token));
  if (chosen.length === 0) chosen = groups.filter((group) => group.agents.includes('*'));
  const delays = chosen.map((group) => group.crawlDelaySeconds).filter((delay) => delay !== undefined);
  return policyFromRules(
    chosen.flatMap((group) => group.rules),
    sitemaps,
    delays.length ? Math.max(...delays) : undefined,
  );
}

/**
 * When robots.txt cannot be read (RFC 9309 §2.3.1): "unavailable" (a 4xx) means no rules;
 * "unreachable" (5xx or a network error) means assume everything is disallowed.
 */
export function robotsPolicyWithoutFile(kind: 'unavailable' | 'unreachable'): RobotsPolicy {
  return kind === 'unavailable'
    ? policyFromRules([], [])
    : policyFromRules([compileRule(false, '/')!], []);
}
