/**
 * What a crawl may fetch: http(s) URLs on public hosts. Private, loopback and link-local
 * addresses and bare hostnames are refused, so a source cannot be pointed at internal services.
 */
const PRIVATE_V4 = [/^10\./, /^127\./, /^169\.254\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^0\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];

export type PublicUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export function checkPublicHttpUrl(raw: string): PublicUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'Not a valid URL.' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'Only http and https URLs can be fetched.' };
  if (url.username || url.password) return { ok: false, reason: 'URLs with credentials are not accepted.' };
  const host = url.hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) {
    return { ok: false, reason: 'Local hostnames cannot be fetched.' };
  }
  if (host.startsWith('[')) {
    const v6 = host.slice(1, -1);
    if (v6 === '::1' || v6 === '::' || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || v6.startsWith('::ffff:')) {
      return { ok: false, reason: 'Private addresses cannot be fetched.' };
    }
  } else if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    if (PRIVATE_V4.some((re) => re.test(host))) return { ok: false, reason: 'Private addresses cannot be fetched.' };
  } else if (!host.includes('.')) {
    return { ok: false, reason: 'Use a fully qualified hostname.' };
  }
  url.hash = '';
  return { ok: true, url };
}
