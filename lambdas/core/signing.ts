import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `v1,<base64 HMAC-SHA256>` of
 * `id.timestamp.body`. During a secret rotation both secrets sign and both signatures are sent,
 * space-separated, so receivers can switch secrets without a gap.
 */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function signWebhook(secrets: readonly string[], msgId: string, timestamp: Date, body: string): SignedHeaders {
  if (secrets.length === 0) throw new Error('a subscription always has at least one signing secret');
  const seconds = Math.floor(timestamp.getTime() / 1000);
  const signatures = secrets.map((secret) => new Webhook(secret).sign(msgId, timestamp, body));
  return { 'webhook-id': msgId, 'webhook-timestamp': String(seconds), 'webhook-signature': signatures.join(' ') };
}
