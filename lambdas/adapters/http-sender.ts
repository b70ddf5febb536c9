import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { parseRetryAfter, RESPONSE_EXCERPT_BYTES, type AttemptResult, type ErrorClass } from '#core/delivery';
import { targetUrlRefusal, type PortRule } from '#core/destination-policy';
import type { HttpRequest, HttpSender } from '#core/ports';
import { connectLookup } from './target-guard.ts';

/**
 * Sends one HTTP request and reports what happened, never throwing: every outcome becomes an
 * attempt in the log. An answer is reported as it came (status, excerpt, Retry-After); the
 * subscription's success rule judges it in core (judgeAnswer). Connections are kept alive between deliveries to the same endpoint (Node's
 * own keep-alive agents: they cost the bundle nothing, where undici weighed 520 KB of it).
 * Redirects are not followed (a 3xx is a failed attempt): following them would let a receiver
 * send Herald, with its signature, somewhere the subscription never named.
 */
export class NodeHttpSender implements HttpSender {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  /**
   * With `allowPrivateTargets` false (deployed), every connection resolves through the SSRF
   * guard and literal addresses and schemes are checked before any socket opens. `ports`: the
   * operator's destination ports (`herald:destinationPorts`).
   */
  constructor(
    private readonly allowPrivateTargets: boolean,
    private readonly ports: PortRule,
  ) {
    const options = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 64, scheduling: 'lifo' as const, lookup: connectLookup(!allowPrivateTargets) };
    this.http = new HttpAgent(options);
    this.https = new HttpsAgent(options);
  }

  async send(req: HttpRequest): Promise<AttemptResult> {
    return (await this.exchange(req, RESPONSE_EXCERPT_BYTES)).result;
  }

  /**
   * The same request with up to `maxBytes` of the answer kept (token endpoints answer more than
   * an excerpt). Same SSRF rules, no redirects.
   */
  async exchange(req: HttpRequest, maxBytes: number): Promise<{ result: AttemptResult; text?: string; headers?: IncomingMessage['headers'] }> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const refusal = targetUrlRefusal(req.url, this.allowPrivateTargets, this.ports);
    if (refusal) return { result: { durationMs: 0, error: 'blocked_destination', errorMessage: `${req.url} ${refusal}` } };
    try {
      const { response, text } = await this.roundTrip(req, maxBytes);
      const statusCode = response.statusCode ?? 0;
      const responseExcerpt = text?.slice(0, RESPONSE_EXCERPT_BYTES);
      const retryAfter = parseRetryAfter(headerValue(response.headers['retry-after']), new Date());
      // The answer as it came: whether this status is a success is the subscription's rule,
      // decided in core (judgeAnswer in core/delivery.ts), not here.
      const result: AttemptResult = {
        statusCode,
        durationMs: elapsed(),
        ...(responseExcerpt ? { responseExcerpt } : {}),
        ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
        ...(statusCode >= 300 && statusCode < 400 ? { errorMessage: `redirect to ${String(response.headers.location ?? '(no location)')} not followed` } : {}),
      };
      return { result, text, headers: response.headers };
    } catch (error) {
      return { result: { durationMs: elapsed(), ...classifyNetworkError(error) } };
    }
  }

  /** One request on a kept-alive connection; the whole exchange (connect to last byte read) within the timeout. */
  private roundTrip(req: HttpRequest, maxBytes: number): Promise<{ response: IncomingMessage; text?: string }> {
    const url = new URL(req.url);
    const secure = url.protocol === 'https:';
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    return new Promise((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: req.method,
          headers: { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
          agent: secure ? this.https : this.http,
          signal: AbortSignal.timeout(req.timeoutMs),
        },
        (response) => {
          readExcerpt(response, maxBytes).then((text) => resolve({ response, ...(text !== undefined ? { text } : {}) }), reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  close(): Promise<void> {
    this.http.destroy();
    this.https.destroy();
    return Promise.resolve();
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Up to `maxBytes` of the answer. A body read to its end leaves the connection for the next
 * delivery; one cut short (too long, or broken off mid-way) closes it, keeping the status code.
 */
function readExcerpt(response: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(size === 0 ? undefined : Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8'));
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) {
        response.destroy();
        done();
      }
    });
    response.on('end', done);
    response.on('error', done);
    response.on('close', done);
  });
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
