/**
 * What the Worker may connect to: `checkUrl` is the single decision, used when a URL is saved
 * (a source, a provider base URL: refused up front with a reason) and again before every
 * request and redirect hop (guarded-fetch.ts). Only http(s), no credentials in the URL, no
 * internal names, no special-purpose addresses, unless the operator allowlisted the host
 * (EGRESS_ALLOW_HOSTS, e.g. a self-hosted model server on localhost).
 *
 * Host names are judged by their spelling only: Workers cannot resolve DNS, so a public name
 * that resolves to a private address is stopped by the egress proxy in production (README,
 * "Egress"), not here.
 */
import { normalizeHost, internalNameReason, type NormalizedHost } from './host';
import { specialIPv4 } from './special-ranges';
import { specialIPv6 } from './special-ranges';

export interface AllowedHost {
  /** Normalized host (see normalizeHost). */
  host: string;
  /** Only this port when set; any port otherwise. */
  port?: number;
}

export interface EgressPolicy {
  allowHosts: readonly AllowedHost[];
}

/** No allowlist: only public hosts. */
export const PUBLIC_ONLY: EgressPolicy = { allowHosts: [] };

export type EgressRefusalCode = 'invalid_url' | 'scheme' | 'credentials' | 'internal_host' | 'special_address';

export interface EgressRefusal {
  code: EgressRefusalCode;
  /** Safe to show the tenant: it describes their URL, never our network. */
  reason: string;
}

export type UrlCheck = { ok: true; url: URL; host: NormalizedHost; allowlisted: boolean } | { ok: false; refusal: EgressRefusal };

const refuse = (code: EgressRefusalCode, reason: string): UrlCheck => ({ ok: false, refusal: { code, reason } });

export const effectivePort = (url: URL) => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

function isAllowlisted(policy: EgressPolicy, host: NormalizedHost, port: number): boolean {
  return policy.allowHosts.some((entry) => entry.host === host.text && (entry.port === undefined || entry.port === port));
}

export function checkUrl(input: string | URL, policy: EgressPolicy): UrlCheck {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refuse('invalid_url', 'Not a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refuse('scheme', 'Only http and https URLs are allowed.');
  if (url.username || url.password) return refuse('credentials', 'URLs with credentials (user:password@) are not allowed.');
  const host = normalizeHost(url.hostname);
  if (isAllowlisted(policy, host, effectivePort(url))) return { ok: true, url, host, allowlisted: true };

  switch (host.kind) {
    case 'invalid':
      return refuse('invalid_url', `"${host.text}" is not a valid host.`);
    case 'name': {
      const reason = internalNameReason(host.text);
      return reason ? refuse('internal_host', `${reason}.`) : { ok: true, url, host, allowlisted: false };
    }
    case 'ipv4': {
      const range = specialIPv4(host.address);
      return range ? refuse('special_address', `${host.text} is a ${range} address.`) : { ok: true, url, host, allowlisted: false };
    }
    case 'ipv6': {
      const range = specialIPv6(host.address);
      return range ? refuse('special_address', `[${host.text}] is not a public address: ${range}.`) : { ok: true, url, host, allowlisted: false };
    }
  }
}

/**
 * Parses EGRESS_ALLOW_HOSTS entries: `host` (any port) or `host:port`, IPv6 in brackets
 * (`[::1]:8080`). Hosts are normalized like URLs, so `LOCALHOST.` allows `localhost`.
 */
export function parseAllowHost(entry: string): AllowedHost | null {
  // Exact hosts only: a wildcard would parse as a literal `*` label and silently match nothing.
  if (entry.includes('*')) return null;
  let url: URL;
  try {
    url = new URL(`http://${entry}`);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return null;
  // URL drops the default port; read it from the entry itself so `host:80` means port 80 only.
  const explicitPort = /:(\d+)$/.exec(entry)?.[1];
  const host = normalizeHost(url.hostname);
  if (host.kind === 'invalid') return null;
  return explicitPort === undefined ? { host: host.text } : { host: host.text, port: Number(explicitPort) };
}
