import { createHash } from 'node:crypto';
import type { AttemptResult } from '#core/delivery';
import type { TokenSource } from '#core/ports';
import type { OAuth2Auth } from '#core/subscription';
import type { NodeHttpSender } from './http-sender.ts';

const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Refresh this long before the token says it expires; tokens without expires_in live 5 min. */
const EXPIRY_MARGIN_MS = 30_000;
const DEFAULT_LIFETIME_MS = 300_000;
const MAX_CACHED = 1000;

/**
 * OAuth2 client-credentials tokens (RFC 6749 §4.4), fetched through the same SSRF-guarded
 * sender as deliveries and cached per client until shortly before they expire. Concurrent
 * deliveries for one client share a single token request.
 */
export class OAuthTokenSource implements TokenSource {
  private readonly cache = new Map<string, { token: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<{ token: string } | { failure: AttemptResult }>>();

  constructor(
    private readonly http: Pick<NodeHttpSender, 'exchange'>,
    private readonly clock: () => number = Date.now,
  ) {}

  async token(auth: OAuth2Auth, options: { timeoutMs: number; refresh: boolean }): Promise<{ token: string } | { failure: AttemptResult }> {
    const key = cacheKey(auth);
    if (options.refresh) this.cache.delete(key);
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > this.clock()) return { token: cached.token };
    let inFlight = this.pending.get(key);
    if (!inFlight) {
      inFlight = this.fetch(auth, key, options.timeoutMs).finally(() => this.pending.delete(key));
      this.pending.set(key, inFlight);
    }
    return inFlight;
  }

  private async fetch(auth: OAuth2Auth, key: string, timeoutMs: number): Promise<{ token: string } | { failure: AttemptResult }> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'Herald-Webhooks/1' };
    if (auth.credentialsIn === 'header') {
      const encode = (v: string) => encodeURIComponent(v);
      headers.authorization = `Basic ${Buffer.from(`${encode(auth.clientId)}:${encode(auth.clientSecret)}`).toString('base64')}`;
    } else {
      form.set('client_id', auth.clientId);
      form.set('client_secret', auth.clientSecret);
    }
    const { result, text } = await this.http.exchange({ url: auth.tokenUrl, method: 'POST', headers, body: form.toString(), timeoutMs }, MAX_TOKEN_RESPONSE_BYTES);
    const failure = (message: string): { failure: AttemptResult } => ({
      failure: { ...result, error: 'auth_failed', errorMessage: `token request to ${auth.tokenUrl} failed: ${message}` },
    });
    if (result.error && result.error !== 'http_status') return failure(`${result.error}${result.errorMessage ? ` (${result.errorMessage})` : ''}`);
    if (result.statusCode !== 200) return failure(`HTTP ${result.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`);
    let body: { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    try {
      body = JSON.parse(text ?? '');
    } catch {
      return failure('the answer is not JSON');
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') return failure('the answer has no access_token');
    if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') return failure(`unsupported token_type ${body.token_type}`);
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { token: body.access_token, expiresAt: this.clock() + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2) });
    return { token: body.access_token };
  }
}

function cacheKey(auth: OAuth2Auth): string {
  return createHash('sha256').update(JSON.stringify([auth.tokenUrl, auth.clientId, auth.clientSecret, auth.scope ?? '', auth.credentialsIn ?? 'body'])).digest('hex');
}
