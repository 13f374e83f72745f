/**
 * What a run keeps of its request and response. Before anything is written: every resolved
 * secret value is replaced wherever it appears (also URL-encoded, as it would be in a query),
 * credential headers are blanked whatever they hold, and personal data the PII scanner finds
 * (emails, phones, cards, IBANs) is replaced by its kind. The result is cut to a bounded size.
 */
import { findPii } from '../../ai/pii';
import { ACTIONS } from '../../limits';

const SECRET = '[secret]';
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|api[-_]?key|token|secret|password/i;

/** Every form a secret value may take in what is recorded. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Secret values out of a text (what the model is given back, what a tool message stores). */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const form of secretForms(secrets)) out = out.split(form).join(SECRET);
  return out;
}

function redactText(text: string, forms: string[]): string {
  let out = text;
  for (const form of forms) out = out.split(form).join(SECRET);
  let result = '';
  let at = 0;
  for (const span of findPii(out)) {
    result += `${out.slice(at, span.start)}[${span.kind.toLowerCase()}]`;
    at = span.end;
  }
  return result + out.slice(at);
}

function walk(value: unknown, forms: string[], depth: number, key?: string): unknown {
  if (key !== undefined && CREDENTIAL_HEADER.test(key) && typeof value === 'string') return '[redacted]';
  if (typeof value === 'string') return redactText(value, forms);
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => walk(v, forms, depth + 1));
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [redactText(k, forms), walk(v, forms, depth + 1, k)]));
}

/** A request or response as a run records it: redacted, then bounded to ACTIONS.maxRecordedChars. */
export function redactForRun(value: unknown, secrets: readonly string[]): unknown {
  if (value === undefined) return null;
  const redacted = walk(value, secretForms(secrets), 0);
  const text = JSON.stringify(redacted);
  if (text.length <= ACTIONS.maxRecordedChars) return redacted;
  return { truncated: true, preview: text.slice(0, ACTIONS.maxRecordedChars) };
}
