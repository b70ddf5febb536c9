import { createHmac, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `v1,<base64 HMAC-SHA256>` of
 * `id.timestamp.body`. During a secret rotation both secrets sign and both signatures are sent,
 * space-separated, so receivers can switch secrets without a gap.
 */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** An imported `whsec_` secret's key: as long as Standard Webhooks libraries generate (24–64 bytes). */
export const IMPORTED_KEY_BYTES = { min: 24, max: 64 } as const;
/** A raw imported secret (a provider's plain HMAC key): visible ASCII, long enough to be a key. */
export const RAW_SECRET_LENGTH = { min: 32, max: 512 } as const;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * Why a secret a platform imports (to keep its receivers verifying through a migration) is not
 * usable, or undefined. Two forms: a Standard Webhooks `whsec_<base64 key>`, or a raw secret
 * whose UTF-8 bytes are the HMAC key (what a provider signing with a plain string used).
 */
export function importedSecretProblem(secret: string): string | undefined {
  if (secret.startsWith('whsec_')) {
    const encoded = secret.slice('whsec_'.length);
    if (!STRICT_BASE64.test(encoded) || encoded.length === 0) return 'a whsec_ secret must be whsec_ followed by standard base64';
    const bytes = Buffer.from(encoded, 'base64').length;
    if (bytes < IMPORTED_KEY_BYTES.min || bytes > IMPORTED_KEY_BYTES.max) {
      return `a whsec_ secret's key must be ${IMPORTED_KEY_BYTES.min}–${IMPORTED_KEY_BYTES.max} bytes, got ${bytes}`;
    }
    return undefined;
  }
  if (!VISIBLE_ASCII.test(secret)) return 'a raw secret may only contain visible ASCII characters (no spaces)';
  if (secret.length < RAW_SECRET_LENGTH.min || secret.length > RAW_SECRET_LENGTH.max) {
    return `a raw secret must be ${RAW_SECRET_LENGTH.min}–${RAW_SECRET_LENGTH.max} characters (or a whsec_ secret)`;
  }
  return undefined;
}

/**
 * The stored form of an imported secret: always `whsec_<base64 key>`, so every secret signs by
 * the same code path. A raw secret's key is its UTF-8 bytes, which is exactly how the provider
 * computed HMAC-SHA256 with it; a whsec_ secret is kept as given (its base64 made canonical).
 */
export function normaliseImportedSecret(secret: string): string {
  const problem = importedSecretProblem(secret);
  if (problem) throw new Error(problem);
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  return `whsec_${key.toString('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs with every secret still signing, each by its own scheme (its prefix says which): a
 * `whsec_` secret gives a `v1` HMAC, a `whsk_` key a `v1a` ed25519 signature.
 */
export function signWebhook(secrets: readonly string[], msgId: string, timestamp: Date, body: string): SignedHeaders {
  if (secrets.length === 0) throw new Error('a subscription always has at least one signing secret');
  const seconds = Math.floor(timestamp.getTime() / 1000);
  const signatures = secrets.map((secret) =>
    secret.startsWith(SIGNING_KEY_PREFIX) ? `v1a,${ed25519Signature(secret, `${msgId}.${seconds}.${body}`)}` : new Webhook(secret).sign(msgId, timestamp, body),
  );
  return { 'webhook-id': msgId, 'webhook-timestamp': String(seconds), 'webhook-signature': signatures.join(' ') };
}

/**
 * Standard Webhooks asymmetric signing (`v1a`, ed25519): receivers verify with the public key
 * alone, so nothing they hold can forge a request. Herald keeps the private key as it keeps HMAC
 * secrets (in the subscription, in the KMS-encrypted table) in the serialisation the spec names:
 * `whsk_<base64 of the 32-byte seed and the 32-byte public key>` (libsodium's 64-byte secret key);
 * receivers get `whpk_<base64 of the raw 32-byte public key>`.
 */
export const SIGNING_KEY_PREFIX = 'whsk_';
export const PUBLIC_KEY_PREFIX = 'whpk_';

export function generateSigningKey(): string {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return `${SIGNING_KEY_PREFIX}${Buffer.concat([Buffer.from(jwk.d!, 'base64url'), Buffer.from(jwk.x!, 'base64url')]).toString('base64')}`;
}

function keyParts(signingKey: string): { seed: Buffer; publicKey: Buffer } {
  if (!signingKey.startsWith(SIGNING_KEY_PREFIX)) throw new Error('not a whsk_ signing key');
  const bytes = Buffer.from(signingKey.slice(SIGNING_KEY_PREFIX.length), 'base64');
  if (bytes.length !== 64) throw new Error(`a whsk_ key holds 64 bytes, got ${bytes.length}`);
  return { seed: bytes.subarray(0, 32), publicKey: bytes.subarray(32) };
}

/** The `whpk_` public key receivers verify `v1a` signatures with. */
export function publicKeyOf(signingKey: string): string {
  return `${PUBLIC_KEY_PREFIX}${keyParts(signingKey).publicKey.toString('base64')}`;
}

// Importing a key costs more than signing with it: a warm deliver function keeps the few it uses.
const privateKeys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 256;

function privateKeyOf(signingKey: string): KeyObject {
  let key = privateKeys.get(signingKey);
  if (!key) {
    const { seed, publicKey } = keyParts(signingKey);
    key = createPrivateKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: publicKey.toString('base64url') } });
    if (privateKeys.size >= MAX_CACHED_KEYS) privateKeys.delete(privateKeys.keys().next().value!);
    privateKeys.set(signingKey, key);
  }
  return key;
}

function ed25519Signature(signingKey: string, content: string): string {
  return sign(null, Buffer.from(content, 'utf8'), privateKeyOf(signingKey)).toString('base64');
}

export interface LegacySignatureSpec {
  header: string;
  over: 'body' | 'timestamp.body';
  encoding: 'hex' | 'base64';
  prefix?: string;
}

/**
 * A provider's plain HMAC-SHA256 signature, for receivers that verify the provider's way during a
 * migration: over the body (or `<unix seconds>.<body>`), hex or base64, after an optional prefix,
 * keyed by the secret's bytes (an imported raw secret's are its UTF-8 bytes). One value only, as
 * such receivers expect one.
 */
export function legacySignature(secret: string, timestamp: Date, body: string, spec: LegacySignatureSpec): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = spec.over === 'body' ? body : `${Math.floor(timestamp.getTime() / 1000)}.${body}`;
  const mac = createHmac('sha256', key).update(signed, 'utf8').digest(spec.encoding);
  return { [spec.header]: `${spec.prefix ?? ''}${mac}` };
}
