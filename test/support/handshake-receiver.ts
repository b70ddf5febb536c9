import { createServer, type IncomingHttpHeaders, type ServerResponse, type Server } from 'node:http';

/**
 * A webhook receiver on loopback that takes part in the CloudEvents validation handshake
 * ("HTTP 1.1 Web Hooks for Event Delivery" §4), per path:
 * - `approve`: answers the OPTIONS request 200 with `WebHook-Allowed-Origin` (the origin asked
 *   for, or `*`) and, when given, `WebHook-Allowed-Rate`;
 * - `callback`: answers 200 without consent and keeps the `WebHook-Request-Callback` URL, which
 *   the test calls later (`approveByCallback`), as an administrator would;
 * - `silent`: never answers the OPTIONS request (the connection stays open until Herald gives up).
 * Deliveries (any other method) are answered 200 and recorded with their arrival time.
 */
export type HandshakeMode = { mode: 'approve'; rate?: number | '*'; origin?: string } | { mode: 'callback' } | { mode: 'silent' };

export interface HandshakeRequest {
  path: string;
  headers: IncomingHttpHeaders;
  at: number;
}

export interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export class HandshakeReceiver {
  readonly handshakes: HandshakeRequest[] = [];
  readonly deliveries: Delivery[] = [];
  private readonly modes = new Map<string, HandshakeMode>();
  private readonly callbacks = new Map<string, string>();
  private readonly silent = new Set<ServerResponse>();
  private server?: Server;
  url = '';

  /** How the receiver answers the handshake for `path` (default: 405, as a receiver without the feature). */
  on(path: string, mode: HandshakeMode): void {
    this.modes.set(path, mode);
  }

  /** The newest callback URL Herald sent for `path`. */
  callbackFor(path: string): string | undefined {
    return this.callbacks.get(path);
  }

  /** Grants consent through the callback, as the spec allows (GET or POST, optionally with a rate). */
  async approveByCallback(path: string, options: { method?: 'GET' | 'POST'; rate?: number | '*' } = {}): Promise<Response> {
    const url = this.callbacks.get(path);
    if (!url) throw new Error(`no validation callback received for ${path}`);
    return fetch(url, { method: options.method ?? 'POST', headers: options.rate !== undefined ? { 'webhook-allowed-rate': String(options.rate) } : {} });
  }

  deliveriesTo(path: string): Delivery[] {
    return this.deliveries.filter((d) => d.path === path);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        if (req.method !== 'OPTIONS') {
          this.deliveries.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
          res.writeHead(200).end('ok');
          return;
        }
        this.handshakes.push({ path, headers: req.headers, at: Date.now() });
        const callback = req.headers['webhook-request-callback'];
        if (typeof callback === 'string') this.callbacks.set(path, callback);
        const mode = this.modes.get(path);
        if (!mode) return void res.writeHead(405, { allow: 'POST' }).end();
        if (mode.mode === 'silent') return void this.silent.add(res);
        if (mode.mode === 'callback') return void res.writeHead(200, { allow: 'POST' }).end();
        const origin = mode.origin ?? String(req.headers['webhook-request-origin'] ?? '*');
        res.writeHead(200, { allow: 'POST', 'webhook-allowed-origin': origin, ...(mode.rate !== undefined ? { 'webhook-allowed-rate': String(mode.rate) } : {}) }).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('receiver did not bind');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.silent) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
