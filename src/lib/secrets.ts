/**
 * Tenant secrets at rest: AES-256-GCM under a key from the environment. Each envelope names
 * its key id, so keys can rotate: new writes use the current key, old envelopes still open
 * with the previous keys listed in ENCRYPTION_KEYS_PREVIOUS.
 */
import type { Config } from '../env';
import { base64FromBytes, bytesFromBase64 } from './crypto';

export interface SecretEnvelope {
  kid: string;
  iv: string;
  ct: string;
}

const keyCache = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function importKey(raw: Uint8Array) {
  let key = keyCache.get(raw);
  if (!key) {
    key = crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    keyCache.set(raw, key);
  }
  return key;
}

/** `aad` binds the ciphertext to its owner (e.g. org id + name): it cannot be replayed elsewhere. */
export async function encryptSecret(config: Config, plaintext: string, aad: string): Promise<SecretEnvelope> {
  const kid = config.encryption.currentKeyId;
  const raw = config.encryption.keys.get(kid);
  if (!raw) throw new Error(`encryption key ${kid} is not loaded`);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(aad) },
    await importKey(raw),
    new TextEncoder().encode(plaintext),
  );
  return { kid, iv: base64FromBytes(iv), ct: base64FromBytes(new Uint8Array(ct)) };
}

/**
 * A stored secret that the configured keys cannot open: its key id was rotated away, or the
 * ciphertext was altered or moved to another owner. Only re-entering the secret (or restoring
 * the key) helps, so callers treat it as permanent.
 */
export class SecretUndecryptableError extends Error {
  override readonly name = 'SecretUndecryptableError';
  constructor(
    readonly secretName: string,
    message: string,
  ) {
    super(message);
  }
}

/** `name` only labels the failure (SecretUndecryptableError) for logs and the tenant. */
export async function decryptSecret(config: Config, envelope: SecretEnvelope, aad: string, name = 'secret'): Promise<string> {
  const raw = config.encryption.keys.get(envelope.kid);
  if (!raw) throw new SecretUndecryptableError(name, `encryption key ${envelope.kid} is not configured`);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytesFromBase64(envelope.iv), additionalData: new TextEncoder().encode(aad) },
      await importKey(raw),
      bytesFromBase64(envelope.ct),
    );
  } catch (error) {
    throw new SecretUndecryptableError(name, `secret does not decrypt under key ${envelope.kid}: ${error instanceof Error ? error.name : 'error'}`);
  }
  return new TextDecoder().decode(plain);
}

/**
 * Associated data of an org settings secret: binds the ciphertext to its org and name. Shared by
 * the settings feature (which stores secrets) and platform code that opens them (chat models).
 */
export const orgSecretAad = (orgId: string, name: string) => `org:${orgId}:secret:${name}`;

/** The org settings secret that holds the model / embedding provider's API key. */
export const PROVIDER_KEY_SECRET = 'api_key';

/** What a secret looks like on the wire: enough to recognise it, never enough to use it. */
export function maskSecret(value: string): string {
  if (value.length <= 8) return '•'.repeat(value.length);
  const head = value.match(/^[a-z]{2,8}[-_]/i)?.[0] ?? '';
  return `${head}…${value.slice(-4)}`;
}
