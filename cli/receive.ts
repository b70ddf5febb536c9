/**
 * `herald receive`: a tiny webhook receiver for trying Herald out. It prints every request it gets
 * (the Standard Webhooks headers and the raw body) and whether its signature verifies, and answers
 * 204 when it does (or when it was given nothing to verify with), 400 when it does not, as a real
 * receiver should.
 *
 * `v1` signatures (HMAC, `whsec_` secrets) are checked with the `standardwebhooks` package, the
 * library docs/receiver-guide.md recommends; `v1a` (ed25519, `whpk_` public keys) with
 * node:crypto, as that package has no asymmetric verification. Both refuse a timestamp more than
 * five minutes off, as the libraries do.
 */
import { createPublicKey, verify as verifyEd25519, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1024 * 1024;

export interface ReceiverKeys {
  /** A `whsec_` secret: verifies `v1` signatures. */
  secret?: string;
  /** A `whpk_` public key: verifies `v1a` signatures. */
  publicKey?: string;
}

export interface Verdict {
  /** true: a signature verified; false: none did; undefined: nothing to verify with. */
  verified?: boolean;
  scheme?: 'v1' | 'v1a';
  error?: string;
}

/** Why a key given on the command line is unusable, or undefined. */
export function receiverKeyProblem(keys: ReceiverKeys): string | undefined {
  if (keys.secret !== undefined) {
    if (!keys.secret.startsWith('whsec_')) return '--secret must be the subscription\'s whsec_ secret';
    try {
      new Webhook(keys.secret);
    } catch (error) {
      return `--secret is not a usable whsec_ secret: ${(error as Error).message}`;
    }
  }
  if (keys.publicKey !== undefined) {
    if (!keys.publicKey.startsWith('whpk_')) return '--public-key must be the subscription\'s whpk_ public key';
    if (Buffer.from(keys.publicKey.slice('whpk_'.length), 'base64').length !== 32) return '--public-key must be whpk_ followed by the base64 of a 32-byte ed25519 key';
  }
  return undefined;
}

function ed25519Key(whpk: string): KeyObject {
  const x = Buffer.from(whpk.slice('whpk_'.length), 'base64').toString('base64url');
  return createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x } });
}

/** The request headers verification reads (node's IncomingHttpHeaders, or signWebhook's answer). */
export type WebhookHeaders = { [name in 'webhook-id' | 'webhook-timestamp' | 'webhook-signature']?: string | string[] };

function header(headers: WebhookHeaders & { [name: string]: unknown }, name: keyof WebhookHeaders | 'content-type'): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? String(value[0]) : typeof value === 'string' ? value : undefined;
}

/** Checks a request's Standard Webhooks signature with whichever keys were given. */
export function verifyWebhook(keys: ReceiverKeys, headers: WebhookHeaders, rawBody: string, now: Date = new Date()): Verdict {
  if (keys.secret === undefined && keys.publicKey === undefined) return {};
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signature = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signature) return { verified: false, error: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  const errors: string[] = [];
  if (keys.secret !== undefined) {
    try {
      new Webhook(keys.secret).verify(rawBody, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature });
      return { verified: true, scheme: 'v1' };
    } catch (error) {
      errors.push(`v1: ${(error as Error).message}`);
    }
  }
  if (keys.publicKey !== undefined) {
    const seconds = Number(timestamp);
    if (!Number.isInteger(seconds)) errors.push('v1a: webhook-timestamp is not a whole number of seconds');
    else if (Math.abs(now.getTime() / 1000 - seconds) > TIMESTAMP_TOLERANCE_SECONDS) errors.push('v1a: timestamp more than 5 minutes off');
    else {
      const signed = Buffer.from(`${id}.${timestamp}.${rawBody}`, 'utf8');
      const key = ed25519Key(keys.publicKey);
      const ok = signature.split(' ').some((entry) => {
        const [version, value] = entry.split(',');
        return version === 'v1a' && value !== undefined && verifyEd25519(null, signed, key, Buffer.from(value, 'base64'));
      });
      if (ok) return { verified: true, scheme: 'v1a' };
      errors.push('v1a: no v1a signature matches the public key');
    }
  }
  return { verified: false, error: errors.join('; ') };
}

export interface ReceivedWebhook extends Verdict {
  method: string;
  path: string;
  headers: { 'webhook-id'?: string; 'webhook-timestamp'?: string; 'webhook-signature'?: string; 'content-type'?: string };
  body: string;
  status: number;
}

/** How `herald receive` prints one request for a person: a verdict line, the headers, the raw body. */
export function describeWebhook(w: ReceivedWebhook): string {
  const verdict =
    w.verified === undefined ? 'signature not checked (no --secret or --public-key)' : w.verified ? `signature verified (${w.scheme})` : `signature NOT verified: ${w.error}`;
  const lines = [`${w.verified === false ? '✗' : '✓'} ${w.method} ${w.path}  ${verdict}  → ${w.status}`];
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) lines.push(`  ${name}: ${w.headers[name] ?? '(missing)'}`);
  lines.push(`  ${w.body}`);
  return lines.join('\n');
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface ReceiverOptions extends ReceiverKeys {
  port: number;
  host: string;
  onWebhook: (webhook: ReceivedWebhook) => void;
}

/** Starts the receiver; resolves with the server and the URL it listens on. */
export async function startReceiver(options: ReceiverOptions): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const body = await readBody(req).catch(() => undefined);
    if (body === undefined) {
      res.writeHead(413).end();
      return;
    }
    const verdict = verifyWebhook(options, req.headers as WebhookHeaders, body);
    const status = verdict.verified === false ? 400 : 204;
    res.writeHead(status).end();
    options.onWebhook({
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      headers: {
        'webhook-id': header(req.headers, 'webhook-id'),
        'webhook-timestamp': header(req.headers, 'webhook-timestamp'),
        'webhook-signature': header(req.headers, 'webhook-signature'),
        'content-type': header(req.headers, 'content-type'),
      },
      body,
      status,
      ...verdict,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { server, url: `http://${host}:${port}` };
}
