/**
 * Sitemaps (https://www.sitemaps.org/protocol.html): a <urlset> lists pages, a <sitemapindex>
 * lists more sitemaps. Read with a tolerant scan of <loc>/<lastmod> rather than an XML parser,
 * since real sitemaps carry namespace prefixes, CDATA and the odd syntax error. Plain-text
 * sitemaps (one URL per line) and gzip bodies are accepted too.
 */
import { Gunzip } from 'fflate';
import { SITEMAP_MAX_INFLATED_BYTES, SITEMAP_MAX_URLS } from '../../../limits';
import { decodeHtmlEntities } from './html-entities';
import { normalizeUrl } from './urls';

export interface SitemapEntry {
  url: string;
  lastModified?: string;
}

export type Sitemap =
  | { kind: 'urlset' | 'sitemapindex'; entries: SitemapEntry[]; truncated: boolean }
  | { kind: 'invalid'; reason: string };

const ROOT = /<(?:[\w-]+:)?(urlset|sitemapindex)\b/i;
const ENTRY = /<(?:[\w-]+:)?(?:url|sitemap)\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?(?:url|sitemap)\s*>/gi;
const LOC = /<(?:[\w-]+:)?loc\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?loc\s*>/i;
const LASTMOD = /<(?:[\w-]+:)?lastmod\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?lastmod\s*>/i;

function elementText(raw: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(raw);
  return (cdata ? cdata[1]! : decodeHtmlEntities(raw)).trim();
}

export type SitemapBody = { ok: true; text: string } | { ok: false; reason: string };

/**
 * Input bytes handed to the inflater at a time. Deflate expands at most ~1032:1, so one step
 * yields at most ~1 MiB and the cap is checked before the next step allocates more.
 */
const INFLATE_STEP_BYTES = 1024;

class InflatedTooLarge extends Error {}

/** Inflates a gzip body as a stream, giving up past `maxBytes` whatever its trailer claims. */
function gunzipCapped(bytes: Uint8Array, maxBytes: number): SitemapBody {
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let total = 0;
  let ended = false;
  const inflater = new Gunzip((chunk, final) => {
    total += chunk.byteLength;
    if (total > maxBytes) throw new InflatedTooLarge();
    parts.push(decoder.decode(chunk, { stream: !final }));
    if (final) ended = true;
  });
  try {
    for (let offset = 0; offset < bytes.length && !ended; offset += INFLATE_STEP_BYTES) {
      const end = Math.min(offset + INFLATE_STEP_BYTES, bytes.length);
      inflater.push(bytes.subarray(offset, end), end === bytes.length);
    }
  } catch (error) {
    if (error instanceof InflatedTooLarge) return { ok: false, reason: `The sitemap inflates beyond ${maxBytes} bytes.` };
    return { ok: false, reason: `The sitemap is not valid gzip: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!ended) return { ok: false, reason: 'The gzip sitemap is truncated.' };
  return { ok: true, text: parts.join('') };
}

/**
 * Gzip (by magic bytes, whatever the headers say) is inflated as a stream with an output cap;
 * the result is decoded as UTF-8. A body that inflates past the cap (a gzip bomb) or is broken
 * gzip is invalid: a permanent outcome, not a reason to retry.
 */
export function decodeSitemapBody(bytes: Uint8Array): SitemapBody {
  if (bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return gunzipCapped(bytes, SITEMAP_MAX_INFLATED_BYTES);
  if (bytes.length > SITEMAP_MAX_INFLATED_BYTES) return { ok: false, reason: `The sitemap is larger than ${SITEMAP_MAX_INFLATED_BYTES} bytes.` };
  return { ok: true, text: new TextDecoder().decode(bytes) };
}

/** Entries in document order; <loc> values that are not http(s) URLs (resolved against
 * sitemapUrl when given) are skipped. */
export function parseSitemap(body: string, sitemapUrl?: string): Sitemap {
  const root = ROOT.exec(body);
  if (!root) return parseTextSitemap(body, sitemapUrl);
  const entries: SitemapEntry[] = [];
  let truncated = false;
  for (const match of body.matchAll(ENTRY)) {
    const loc = LOC.exec(match[1]!);
    const url = loc && normalizeUrl(elementText(loc[1]!), sitemapUrl);
    if (!url) continue;
    if (entries.length === SITEMAP_MAX_URLS) {
      truncated = true;
      break;
    }
    const lastModified = LASTMOD.exec(match[1]!);
    entries.push(lastModified ? { url, lastModified: elementText(lastModified[1]!) } : { url });
  }
  return { kind: root[1]!.toLowerCase() === 'urlset' ? 'urlset' : 'sitemapindex', entries, truncated };
}

function parseTextSitemap(body: string, sitemapUrl?: string): Sitemap {
  const lines = body.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  if (lines.length === 0 || lines.some((line) => !/^https?:\/\/\S+$/i.test(line))) {
    return { kind: 'invalid', reason: 'Neither a <urlset> or <sitemapindex> document nor a list of URLs.' };
  }
  const entries = lines.slice(0, SITEMAP_MAX_URLS).flatMap((line) => {
    const url = normalizeUrl(line, sitemapUrl);
    return url ? [{ url }] : [];
  });
  return { kind: 'urlset', entries, truncated: lines.length > SITEMAP_MAX_URLS };
}
