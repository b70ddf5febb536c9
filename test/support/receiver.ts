import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A webhook receiver on loopback for e2e tests: records every request and answers with a
 * scripted sequence of responses (then 200).
 */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
}

export class Receiver {
  readonly requests: Received[] = [];
  private readonly scripts = new Map<string, ScriptedResponse[]>();
  private readonly fallbacks = new Map<string, ScriptedResponse>();
  private readonly inFlight = new Map<string, number>();
  /** The most requests to each path that were open at once. */
  readonly peakInFlight = new Map<string, number>();
  private server?: Server;
  url = '';

  /** Responses for requests to `path`, used in order; afterwards every request gets 200. */
  script(path: string, responses: ScriptedResponse[]): void {
    this.scripts.set(path, [...responses]);
  }

  /** The response for requests to `path` once its script is used up (default 200 at once). */
  otherwise(path: string, response: ScriptedResponse): void {
    this.fallbacks.set(path, response);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const next = this.scripts.get(path)?.shift() ?? this.fallbacks.get(path) ?? { status: 200, body: 'ok' };
        const open = (this.inFlight.get(path) ?? 0) + 1;
        this.inFlight.set(path, open);
        this.peakInFlight.set(path, Math.max(open, this.peakInFlight.get(path) ?? 0));
        setTimeout(() => {
          this.inFlight.set(path, (this.inFlight.get(path) ?? 1) - 1);
          res.writeHead(next.status, next.headers ?? {});
          res.end(next.body ?? '');
        }, next.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  async waitFor(path: string, count: number, timeoutMs = 15_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.on(path).length >= count) return this.on(path);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`expected ${count} request(s) on ${path}, got ${this.on(path).length}`);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
