import { Agent, request } from 'undici';
import { parseRetryAfter, RESPONSE_EXCERPT_BYTES, type AttemptResult, type ErrorClass } from '#core/delivery';
import { targetUrlRefusal } from '#core/destination-policy';
import type { HttpRequest, HttpSender } from '#core/ports';
import { connectLookup } from './target-guard.ts';

/**
 * Sends one HTTP request and reports what happened, never throwing: every outcome becomes an
 * attempt in the log. Connections are kept alive between deliveries to the same endpoint.
 * Redirects are not followed (a 3xx is a failed attempt): following them would let a receiver
 * send Herald, with its signature, somewhere the subscription never named.
 */
export class UndiciHttpSender implements HttpSender {
  private readonly agent: Agent;

  /**
   * With `allowPrivateTargets` false (deployed), every connection resolves through the SSRF
   * guard and literal addresses and schemes are checked before any socket opens.
   */
  constructor(private readonly allowPrivateTargets: boolean) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 64,
      connect: { timeout: 10_000, lookup: connectLookup(!allowPrivateTargets) },
    });
  }

  async send(req: HttpRequest): Promise<AttemptResult> {
    return (await this.exchange(req, RESPONSE_EXCERPT_BYTES)).result;
  }

  /**
   * The same request with up to `maxBytes` of the answer kept (token endpoints answer more than
   * an excerpt). Same SSRF rules, no redirects.
   */
  async exchange(req: HttpRequest, maxBytes: number): Promise<{ result: AttemptResult; text?: string }> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const refusal = targetUrlRefusal(req.url, this.allowPrivateTargets);
    if (refusal) return { result: { durationMs: 0, error: 'blocked_destination', errorMessage: `${req.url} ${refusal}` } };
    try {
      const response = await request(req.url, {
        method: req.method as 'POST',
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal: AbortSignal.timeout(req.timeoutMs),
      });
      const text = await readExcerpt(response.body, maxBytes);
      const responseExcerpt = text?.slice(0, RESPONSE_EXCERPT_BYTES);
      const result: AttemptResult = { statusCode: response.statusCode, durationMs: elapsed(), ...(responseExcerpt ? { responseExcerpt } : {}) };
      if (response.statusCode >= 300 && response.statusCode < 400) {
        return { result: { ...result, error: 'redirect', errorMessage: `redirect to ${String(response.headers.location ?? '(no location)')} not followed` }, text };
      }
      if (response.statusCode < 200 || response.statusCode >= 300) {
        const retryAfter = parseRetryAfter(headerValue(response.headers['retry-after']), new Date());
        return { result: { ...result, error: 'http_status', ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) }, text };
      }
      return { result, text };
    } catch (error) {
      return { result: { durationMs: elapsed(), ...classifyNetworkError(error) } };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy?: () => void }, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) break;
    }
  } catch {
    // A body that breaks off mid-way still leaves us the status code.
  } finally {
    body.destroy?.();
  }
  if (size === 0) return undefined;
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

export function classifyNetworkError(error: unknown): { error: ErrorClass; errorMessage: string } {
  const err = error as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code ?? '';
  const message = (err.message ?? String(error)).slice(0, 300);
  const byCode: [RegExp, ErrorClass][] = [
    [/^(UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_CONNECT_TIMEOUT|ETIMEDOUT|ABORT_ERR)$/, 'timeout'],
    [/^ECONNREFUSED$/, 'connection_refused'],
    [/^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/, 'connection_reset'],
    [/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/, 'dns'],
    [/^(ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/, 'tls'],
    [/^HERALD_BLOCKED$/, 'blocked_destination'],
  ];
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return { error: 'timeout', errorMessage: 'no answer within the subscription timeout' };
  for (const [pattern, cls] of byCode) if (pattern.test(code)) return { error: cls, errorMessage: `${code}: ${message}` };
  return { error: 'network', errorMessage: code ? `${code}: ${message}` : message };
}
