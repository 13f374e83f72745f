/** The lead form's client-side checks, pure. */
import { LEADS } from '../../src/limits';
import type { Strings } from './i18n';

/** Client-side lead checks (the server checks again and decides): a message, or null when fine. */
export function leadFieldProblem(field: string, value: string, required: boolean, t: Pick<Strings, 'required' | 'invalidEmail' | 'invalidPhone'>): string | null {
  if (!value) return required ? t.required : null;
  if (field === 'email' && !/^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/.test(value)) return t.invalidEmail;
  if (field === 'phone') {
    const digits = value.replace(/[\s\-()]/g, '');
    const { min, max } = LEADS.phoneDigits;
    if (value.length > 64 || !new RegExp(`^\\+[0-9]{${min},${max}}$`).test(digits)) return t.invalidPhone;
  }
  return null;
}

