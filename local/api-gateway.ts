import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
} from 'aws-lambda';
import { PUBLIC_CALLBACK_PREFIX, PUBLIC_ROUTES } from '../lambdas/shared/herald-config.ts';
import { lambdaContext, type LambdaHandler } from './lambda-context.ts';

/**
 * A local API Gateway (REST, proxy integration): turns each HTTP request into the event API
 * Gateway would send, runs the same request authorizer first, then the api function, and
 * writes its result back. Unauthorized answers match the stack's gateway responses.
 */
export interface LocalApiOptions {
  authorizer: LambdaHandler<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>;
  api: LambdaHandler<APIGatewayProxyEvent, APIGatewayProxyResult>;
  /** Extra routes served before the API (e.g. /local inspection); return true when handled. */
  extra?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<boolean>;
  /**
   * Keep each Allow answer of the authorizer this long per Authorization header, as the stack's
   * API Gateway does (5 minutes). Default 0: every request is authorized afresh, so a revoked
   * key stops at once in tests that do not test the cache.
   */
  authorizerCacheSeconds?: number;
}

/**
 * Which `Host` headers the local server answers (against DNS rebinding: a page on
 * http://evil.example whose name is re-pointed at 127.0.0.1 reaches this server as a same-origin
 * request, but its requests still say `Host: evil.example`):
 *   - bound to a loopback address (the default, 127.0.0.1): loopback names only, any port:
 *     `localhost`, `127.x.y.z`, `[::1]`;
 *   - bound to a wildcard address (`0.0.0.0`, `::`): any Host, the operator chose to expose it;
 *   - bound to another address or name: loopback names and that address or name.
 * Everything else (and a request with no Host) gets 421 problem+json before any route runs.
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  const bound = boundHost.toLowerCase();
  if (isWildcardAddress(bound)) return true;
  const hostname = hostnameOf(hostHeader);
  if (hostname === undefined) return false;
  if (isLoopbackName(hostname)) return true;
  const boundName = bound.startsWith('[') ? bound : bound.includes(':') ? `[${bound}]` : bound;
  return hostname === boundName;
}

/** The host name of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case; undefined when malformed. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::\d{1,5})?$/i.exec(hostHeader?.trim() ?? '');
  return match ? match[1]!.toLowerCase().replace(/\.$/, '') : undefined;
}

export function isLoopbackName(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]' || hostname === '::1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  return !!v4 && v4.slice(1).every((octet) => Number(octet) <= 255);
}

function isWildcardAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/**
 * A browser request made by a page of another site: an `Origin` that is neither a loopback
 * origin nor this very origin (Origin host equal to Host), an opaque `Origin: null`, or
 * `Sec-Fetch-Site: cross-site`. Requests without these headers (curl, SDKs, tests) are not browser
 * cross-site requests.
 */
export function isCrossSiteRequest(req: IncomingMessage): boolean {
  if (String(req.headers['sec-fetch-site'] ?? '').toLowerCase() === 'cross-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return true; // includes "null"
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return true;
  if (isLoopbackName(parsed.hostname.toLowerCase())) return false;
  return parsed.host.toLowerCase() !== String(req.headers.host ?? '').trim().toLowerCase();
}

const STAGE = 'prod';
const MAX_BODY = 10 * 1024 * 1024; // API Gateway's payload limit

function gatewayProblem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

export class LocalApiGateway {
  private server?: Server;
  private boundHost = '127.0.0.1';
  private readonly authorizerCache = new Map<string, { answer: APIGatewayAuthorizerResult; until: number }>();

  constructor(private readonly options: LocalApiOptions) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.boundHost = host;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        console.error('[local api] internal error', error);
        if (!res.headersSent) gatewayProblem(res, 502, 'Bad gateway', 'the function failed; see the server log');
        else res.end();
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server.closeIdleConnections();
    setTimeout(() => this.server?.closeAllConnections(), 1000).unref();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Before anything else, even reading the body: only the names this server is meant to answer.
    if (!hostAllowed(req.headers.host, this.boundHost)) {
      res.setHeader('connection', 'close');
      return gatewayProblem(
        res,
        421,
        'Misdirected request',
        `the local server answers only to loopback host names (localhost, 127.x.y.z, [::1]) and the address it is bound to (HERALD_HOST), not Host ${JSON.stringify(String(req.headers.host ?? '').slice(0, 100))}`,
      );
    }
    const { pathname } = new URL(req.url ?? '/', 'http://local');
    if ((pathname === '/local' || pathname.startsWith('/local/')) && isCrossSiteRequest(req)) {
      res.setHeader('connection', 'close');
      return gatewayProblem(res, 403, 'Forbidden', 'the local routes refuse cross-site browser requests (Origin must be a loopback origin)');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) return gatewayProblem(res, 413, 'Payload too large', 'request bodies are at most 10 MB');
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    if (this.options.extra && (await this.options.extra(req, res, body))) return;

    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      const value = req.rawHeaders[i + 1]!;
      headers[name] = value;
      (multiValueHeaders[name] ??= []).push(value);
    }
    const query: Record<string, string> = {};
    const multiQuery: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) {
      query[k] = v;
      (multiQuery[k] ??= []).push(v);
    }
    const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
    const methodArn = `arn:aws:execute-api:us-east-1:000000000000:local/${STAGE}/${method}${url.pathname}`;
    const authHeader = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    const isPublic =
      (method === 'GET' && (PUBLIC_ROUTES as readonly string[]).includes(url.pathname)) ||
      ((method === 'GET' || method === 'POST') && url.pathname.startsWith(PUBLIC_CALLBACK_PREFIX));
    // API Gateway answers 401 itself when the identity source is missing, without the authorizer.
    if (!authHeader && !isPublic) return gatewayProblem(res, 401, 'Unauthorized', 'missing or invalid API key');

    let authorization: APIGatewayAuthorizerResult = { principalId: 'anonymous', policyDocument: { Version: '2012-10-17', Statement: [] }, context: {} };
    const cached = authHeader ? this.authorizerCache.get(authHeader) : undefined;
    if (cached && cached.until > Date.now()) authorization = cached.answer;
    else if (!isPublic) try {
      authorization = await this.options.authorizer(
        {
          type: 'REQUEST',
          methodArn,
          resource: '/{proxy+}',
          path: url.pathname,
          httpMethod: method,
          headers,
          multiValueHeaders,
          queryStringParameters: query,
          multiValueQueryStringParameters: multiQuery,
          pathParameters: { proxy: url.pathname.slice(1) },
          stageVariables: {},
          requestContext: { httpMethod: method, path: url.pathname, stage: STAGE, requestId: randomUUID(), identity: { sourceIp } },
        } as unknown as APIGatewayRequestAuthorizerEvent,
        lambdaContext('herald-authorizer', 10_000),
      );
    } catch (error) {
      if ((error as Error).message === 'Unauthorized') return gatewayProblem(res, 401, 'Unauthorized', 'missing or invalid API key');
      throw error;
    }
    const allowed = isPublic || authorization.policyDocument.Statement.some((s) => 'Effect' in s && s.Effect === 'Allow');
    const cacheSeconds = this.options.authorizerCacheSeconds ?? 0;
    if (allowed && !isPublic && authHeader && cacheSeconds > 0 && !cached) this.authorizerCache.set(authHeader, { answer: authorization, until: Date.now() + cacheSeconds * 1000 });
    if (!allowed) return gatewayProblem(res, 403, 'Forbidden', 'this key may not call this route');

    const event = {
      resource: '/{proxy+}',
      path: url.pathname,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: Object.keys(query).length ? query : null,
      multiValueQueryStringParameters: Object.keys(multiQuery).length ? multiQuery : null,
      pathParameters: { proxy: url.pathname.slice(1) },
      stageVariables: null,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        authorizer: { ...authorization.context, principalId: authorization.principalId },
        httpMethod: method,
        path: `/${STAGE}${url.pathname}`,
        protocol: 'HTTP/1.1',
        requestId: randomUUID(),
        requestTimeEpoch: Date.now(),
        resourceId: 'local',
        resourcePath: '/{proxy+}',
        stage: STAGE,
        identity: { sourceIp, userAgent: headers['user-agent'] ?? null },
      },
      body: body.length ? body.toString('utf8') : null,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEvent;
    const result = await this.options.api(event, lambdaContext('herald-api', 29_000));
    const outHeaders: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
    for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) outHeaders[k] = v.map(String);
    res.writeHead(result.statusCode, outHeaders);
    res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  }
}
