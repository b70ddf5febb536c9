import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for a customer's existing third-party API on loopback: an OAuth2 client-credentials
 * token endpoint and resources that check an API key, basic credentials or a bearer token the
 * token endpoint issued. `revokeTokens()` makes every issued token fail with 401, as an API
 * does when it rotates its signing keys.
 */
export interface ApiCall {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export class ThirdPartyApi {
  readonly calls: ApiCall[] = [];
  readonly tokenRequests: { form: URLSearchParams; headers: IncomingHttpHeaders }[] = [];
  private validTokens = new Set<string>();
  private issued = 0;
  private server?: Server;
  url = '';

  constructor(
    readonly client = { id: 'herald-client', secret: 'client-secret-1' },
    readonly apiKey = { header: 'x-api-key', value: 'key-123' },
    readonly basic = { username: 'herald', password: 'p@ss:word' },
  ) {}

  revokeTokens(): void {
    this.validTokens.clear();
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const answer = (status: number, payload: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(payload));
          return status;
        };
        if (path === '/oauth/token') {
          const form = new URLSearchParams(body);
          this.tokenRequests.push({ form, headers: req.headers });
          const [id, secret] = basicCredentials(req.headers.authorization) ?? [form.get('client_id'), form.get('client_secret')];
          if (form.get('grant_type') !== 'client_credentials' || id !== this.client.id || secret !== this.client.secret) {
            answer(401, { error: 'invalid_client' });
            return;
          }
          const token = `tok-${++this.issued}`;
          this.validTokens.add(token);
          answer(200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
          return;
        }
        let allowed = false;
        if (path.startsWith('/oauth-api')) allowed = this.validTokens.has(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
        else if (path.startsWith('/key-api')) allowed = req.headers[this.apiKey.header] === this.apiKey.value;
        else if (path.startsWith('/basic-api')) {
          const creds = basicCredentials(req.headers.authorization);
          allowed = creds?.[0] === this.basic.username && creds?.[1] === this.basic.password;
        } else allowed = true;
        const status = answer(allowed ? 201 : 401, allowed ? { ok: true } : { error: 'unauthorized' });
        this.calls.push({ path, method: req.method ?? '', headers: req.headers, body, status });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): ApiCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function basicCredentials(header: string | undefined): [string, string] | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : [decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))];
}
