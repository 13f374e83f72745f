/**
 * Origins of the pages that embed a bot's widget. A request's `Origin` header is normalized the
 * way browsers serialize origins (scheme, lowercase host, port only when not the default) and
 * compared with the bot's `allowedOrigins`, which the bots API already stores in that form
 * (features/bots/schemas.ts accepts only `new URL(v).origin === v`).
 *
 * That rule also accepts `https://*.example.com`, which no browser ever sends as an Origin; such
 * an entry means "any subdomain of example.com, at any depth, same scheme and port" (not
 * example.com itself). A `*` anywhere else in an entry is compared literally and so never matches.
 */
import { WIDGET } from '../../limits';

/** The serialized origin of an Origin header value, or null for `null`, opaque or unparsable origins. */
export function normalizeOrigin(header: string | null | undefined): string | null {
  if (!header || header.length > WIDGET.maxOriginChars) return null;
  const value = header.trim();
  if (value === '' || value.toLowerCase() === 'null') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // An Origin header is only scheme://host[:port]: a path, query, fragment or credentials mean it is not one.
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return null;
  if (!/^[a-z]+:\/\/[^/?#@]+\/?$/i.test(value)) return null;
  if (url.hostname.includes('*')) return null;
  return url.origin;
}

/** True when `origin` (normalized) is one of the bot's allowed origins, or under one of its `*.` entries. */
export function originAllowed(origin: string, allowedOrigins: readonly string[]): boolean {
  for (const entry of allowedOrigins) {
    if (entry === origin) return true;
    if (wildcardMatches(entry, origin)) return true;
  }
  return false;
}

function wildcardMatches(entry: string, origin: string): boolean {
  const match = /^(https?):\/\/\*\.([^/:*]+)(:\d+)?$/.exec(entry);
  if (!match) return false;
  const [, scheme, suffix, port = ''] = match;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== `${scheme}:`) return false;
  if ((url.port ? `:${url.port}` : '') !== port) return false;
  const host = url.hostname;
  // At least one label in front of the suffix, ending exactly at a label boundary.
  return host.length > suffix!.length + 1 && host.endsWith(`.${suffix}`);
}
