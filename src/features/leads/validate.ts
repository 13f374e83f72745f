/**
 * Server-side validation and normalization of what a visitor types into the lead form. The
 * widget validates too, but only this decides what is stored.
 */
import { LEADS } from '../../limits';

export interface LeadFieldError {
  path: string;
  message: string;
}

// C0/C1 controls and the bidi controls that can disguise text in a dashboard or spreadsheet.
const UNSAFE_CHARS = /[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Trimmed, inner whitespace collapsed, unsafe characters removed; empty → null. */
export function normalizeName(raw: string): { ok: true; value: string | null } | { ok: false; message: string } {
  const name = raw.replace(UNSAFE_CHARS, ' ').replace(/\s+/g, ' ').trim();
  if (name.length > LEADS.maxNameChars) return { ok: false, message: `At most ${LEADS.maxNameChars} characters` };
  return { ok: true, value: name === '' ? null : name };
}

// RFC 5322 atext plus dots, and letters and digits of any script (RFC 6531 internationalized
// local parts). Quoted local parts and comments are not accepted: no form needs them.
const LOCAL_PART = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TOP_LEVEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** `local@domain` with the domain lowercased (and an internationalized domain in its ASCII form). */
export function normalizeEmail(raw: string): { ok: true; value: string } | { ok: false; message: string } {
  const email = raw.trim();
  const invalid = { ok: false as const, message: 'Not an email address' };
  if (email.length > LEADS.maxEmailChars) return { ok: false, message: `At most ${LEADS.maxEmailChars} characters` };
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return invalid;
  const local = email.slice(0, at);
  const domainRaw = email.slice(at + 1);
  if (local.length > LEADS.maxEmailLocalChars || !LOCAL_PART.test(local)) return invalid;
  // Anything URL syntax would read as something other than a host name is refused before parsing.
  if (/[\s/\\?#:@[\]%]/.test(domainRaw)) return invalid;
  let domain: string;
  try {
    domain = new URL(`http://${domainRaw}`).hostname;
  } catch {
    return invalid;
  }
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label)) || !TOP_LEVEL.test(labels[labels.length - 1]!)) return invalid;
  const value = `${local}@${domain}`;
  if (value.length > LEADS.maxEmailChars) return { ok: false, message: `At most ${LEADS.maxEmailChars} characters` };
  return { ok: true, value };
}

/** E.164-ish: `+` and 6 to 15 digits once spaces, dashes and parentheses are removed. */
export function normalizePhone(raw: string): { ok: true; value: string } | { ok: false; message: string } {
  // Bounded before any work: the widest formatting of 15 digits is far below this.
  if (raw.length > 64) return { ok: false, message: 'Not a phone number' };
  const phone = raw.replace(/[\s\-()]/g, '');
  const { min, max } = LEADS.phoneDigits;
  if (!new RegExp(`^\\+[0-9]{${min},${max}}$`).test(phone)) {
    return { ok: false, message: `An international number: + then ${min} to ${max} digits (spaces, dashes and parentheses are fine)` };
  }
  return { ok: true, value: phone };
}

export interface LeadFields {
  name: string | null;
  email: string | null;
  phone: string | null;
}

/** Every field checked (all errors reported at once); at least one of email and phone. */
export function validateLeadFields(input: { name?: string | null; email?: string | null; phone?: string | null }):
  | { ok: true; value: LeadFields }
  | { ok: false; errors: LeadFieldError[] } {
  const errors: LeadFieldError[] = [];
  const value: LeadFields = { name: null, email: null, phone: null };
  if (input.name != null) {
    const name = normalizeName(input.name);
    if (name.ok) value.name = name.value;
    else errors.push({ path: 'name', message: name.message });
  }
  if (input.email != null && input.email.trim() !== '') {
    const email = normalizeEmail(input.email);
    if (email.ok) value.email = email.value;
    else errors.push({ path: 'email', message: email.message });
  }
  if (input.phone != null && input.phone.trim() !== '') {
    const phone = normalizePhone(input.phone);
    if (phone.ok) value.phone = phone.value;
    else errors.push({ path: 'phone', message: phone.message });
  }
  if (errors.length === 0 && value.email === null && value.phone === null) {
    errors.push({ path: 'email', message: 'Give an email address or a phone number' });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value };
}
