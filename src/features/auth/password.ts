/**
 * Password hashing with scrypt (memory-hard, native in workerd under nodejs_compat).
 * Stored as `scrypt$N=16384,r=8,p=1$<salt>$<hash>` so parameters can be raised later:
 * `needsRehash` tells the login path to upgrade an old hash transparently.
 */
import { scrypt, timingSafeEqual } from 'node:crypto';
import { SCRYPT_PARAMS } from '../../limits';
import { base64FromBytes, bytesFromBase64 } from '../../lib/crypto';

interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keyLength: number;
}

function derive(password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      params.keyLength,
      { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 },
      (err, key) => (err ? reject(err) : resolve(new Uint8Array(key))),
    );
  });
}

export async function hashPassword(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${base64FromBytes(salt)}$${base64FromBytes(hash)}`;
}

function parse(stored: string): { params: ScryptParams; salt: Uint8Array; hash: Uint8Array } | null {
  const [scheme, paramText, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !paramText || !salt || !hash) return null;
  const values = Object.fromEntries(paramText.split(',').map((kv) => kv.split('=') as [string, string]));
  const N = Number(values.N);
  const r = Number(values.r);
  const p = Number(values.p);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return null;
  const hashBytes = bytesFromBase64(hash);
  return { params: { N, r, p, keyLength: hashBytes.length }, salt: bytesFromBase64(salt), hash: hashBytes };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.params);
  return candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash);
}

export function needsRehash(stored: string, params: ScryptParams = SCRYPT_PARAMS): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.params.N < params.N || parsed.params.r !== params.r || parsed.params.p !== params.p;
}

// A real hash of a random password: verifying against it costs the same as a real user's,
// so "unknown email" and "wrong password" take similar time.
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(crypto.randomUUID());
  return decoy;
}

export type PasswordPolicyResult = { ok: true } | { ok: false; message: string };

export function checkPasswordPolicy(password: string, email: string, minLength: number, maxLength: number): PasswordPolicyResult {
  if (password.length < minLength) return { ok: false, message: `Password must be at least ${minLength} characters.` };
  if (password.length > maxLength) return { ok: false, message: `Password must be at most ${maxLength} characters.` };
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) {
    return { ok: false, message: 'Password must not be your email address.' };
  }
  if (/^(.)\1*$/.test(password)) return { ok: false, message: 'Password must not be one repeated character.' };
  return { ok: true };
}
