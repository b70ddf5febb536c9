import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyResult, LambdaFunctionURLEvent } from 'aws-lambda';
import { lambdaContext, type LambdaHandler } from './lambda-context.ts';

/** Lambda function URLs refuse larger request bodies. */
const MAX_BODY_BYTES = 6 * 1024 * 1024;

/**
 * A local Lambda function URL: each HTTP request becomes the payload-2.0 event a function URL
 * sends (lower-cased headers, raw path and query, the body base64-encoded as function URLs do),
 * and the function's result becomes the response.
 */
export class LocalFunctionUrl {
  private server?: Server;

  constructor(
    private readonly functionName: string,
    private readonly handler: LambdaHandler<LambdaFunctionURLEvent, APIGatewayProxyResult>,
    private readonly timeoutMs: number,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      req.on('end', () => {
        if (size > MAX_BODY_BYTES) {
          res.writeHead(413, { 'content-type': 'text/plain' }).end('Request Entity Too Large');
          return;
        }
        const url = new URL(req.url ?? '/', 'http://local');
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
        const body = Buffer.concat(chunks);
        const event = {
          version: '2.0',
          routeKey: '$default',
          rawPath: url.pathname,
          rawQueryString: url.search.slice(1),
          headers,
          queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
          requestContext: {
            accountId: 'anonymous',
            apiId: 'local',
            domainName: req.headers.host ?? 'localhost',
            domainPrefix: 'local',
            http: { method: req.method ?? 'GET', path: url.pathname, protocol: 'HTTP/1.1', sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: req.headers['user-agent'] ?? '' },
            requestId: randomUUID(),
            routeKey: '$default',
            stage: '$default',
            time: new Date().toUTCString(),
            timeEpoch: Date.now(),
          },
          ...(body.length ? { body: body.toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
        } as LambdaFunctionURLEvent;
        this.handler(event, lambdaContext(this.functionName, this.timeoutMs)).then(
          (result) => {
            res.writeHead(result.statusCode, result.headers as Record<string, string>);
            res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
          },
          (error: Error) => {
            console.error(`[local ${this.functionName}] ${error.message}`);
            res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ Message: 'Internal Server Error' }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
