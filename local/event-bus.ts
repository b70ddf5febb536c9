import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { matchesEventPattern, type EventPattern } from '../lambdas/core/event-pattern.ts';

/**
 * A small local EventBridge: speaks the PutEvents JSON wire protocol (so the real
 * @aws-sdk/client-eventbridge talks to it unchanged) and delivers each event to the targets of
 * matching rules, asynchronously and with retries, as EventBridge does. Rule patterns are
 * evaluated with the same matcher that serves subscription filters.
 */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface Rule {
  name: string;
  busName: string;
  pattern: EventPattern;
  target: (event: BusEvent) => Promise<unknown>;
  /** Attempts before the event is given up on (EventBridge: 185 over 24 h; locally fewer). */
  maxAttempts?: number;
}

interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number | string;
  Resources?: string[];
}

export class LocalEventBus {
  private server?: Server;
  private readonly rules: Rule[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Events no target took after all retries: EventBridge would put them in the target's DLQ. */
  readonly undeliverable: { rule: string; event: BusEvent; error: string }[] = [];
  /** Everything put on each bus, newest last (bounded), for inspection in tests and /local routes. */
  readonly received = new Map<string, BusEvent[]>();
  /** Buses that exist: PutEvents to any other answers ResourceNotFoundException for the entry. */
  private readonly buses = new Set<string>(['default']);
  private readonly failures = new Map<string, { remaining: number; code: string; message: string }>();

  constructor(
    private readonly region = 'us-east-1',
    private readonly account = '000000000000',
  ) {}

  addRule(rule: Rule): void {
    this.createBus(rule.busName);
    this.rules.push(rule);
  }

  /** A named bus (Herald's own, or a stand-in for a customer's bus in another account). */
  createBus(name: string): void {
    this.buses.add(name);
    if (!this.received.has(name)) this.received.set(name, []);
  }

  busNames(): string[] {
    return [...this.buses];
  }

  /**
   * Fault injection: the next `count` entries put on `busName` fail with `code`, as EventBridge
   * reports throttling or refusals per entry (FailedEntryCount).
   */
  failNext(busName: string, count: number, code = 'ThrottlingException', message = 'Rate exceeded'): void {
    this.failures.set(busName, { remaining: count, code, message });
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /** Waits until every target invocation started so far has finished (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    if (target !== 'AWSEvents.PutEvents') {
      reply(400, { __type: 'UnknownOperationException', message: `local bus supports PutEvents only, not ${target || 'this call'}` });
      return;
    }
    let input: { Entries?: PutEventsEntry[] };
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      reply(400, { __type: 'SerializationException', message: 'body is not JSON' });
      return;
    }
    const entries = input.Entries ?? [];
    if (entries.length < 1 || entries.length > 10) {
      reply(400, { __type: 'ValidationException', message: 'PutEvents takes 1 to 10 entries' });
      return;
    }
    reply(200, this.putEvents(entries));
  }

  putEvents(entries: PutEventsEntry[]): { FailedEntryCount: number; Entries: ({ EventId: string } | { ErrorCode: string; ErrorMessage: string })[] } {
    let failed = 0;
    const results = entries.map((entry) => {
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail ?? '');
      } catch {
        failed++;
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' };
      }
      if (!entry.Source || !entry.DetailType) {
        failed++;
        return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source and DetailType are required' };
      }
      const event: BusEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: this.account,
        time: new Date(typeof entry.Time === 'number' ? entry.Time * 1000 : entry.Time ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: this.region,
        resources: entry.Resources ?? [],
        detail,
      };
      const busName = busNameOf(entry.EventBusName);
      if (!this.buses.has(busName)) {
        failed++;
        return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };
      }
      const failure = this.failures.get(busName);
      if (failure && failure.remaining > 0) {
        failure.remaining--;
        failed++;
        return { ErrorCode: failure.code, ErrorMessage: failure.message };
      }
      this.route(busName, event);
      return { EventId: event.id };
    });
    return { FailedEntryCount: failed, Entries: results };
  }

  private route(busName: string, event: BusEvent): void {
    const log = this.received.get(busName) ?? [];
    log.push(event);
    if (log.length > 1000) log.shift();
    this.received.set(busName, log);
    for (const rule of this.rules) {
      if (rule.busName !== busName || !matchesEventPattern(rule.pattern, event)) continue;
      const run = this.invoke(rule, event).finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
  }

  private async invoke(rule: Rule, event: BusEvent): Promise<void> {
    const maxAttempts = rule.maxAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      try {
        await rule.target(event);
        return;
      } catch (error) {
        if (attempt >= maxAttempts) {
          this.undeliverable.push({ rule: rule.name, event, error: String(error) });
          console.error(`[local bus] rule ${rule.name} gave up on event ${event.id}: ${String(error)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
      }
    }
  }
}

/** EventBusName may be a name or an ARN; absent means the default bus. */
export function busNameOf(nameOrArn: string | undefined): string {
  if (!nameOrArn) return 'default';
  const match = /^arn:aws[\w-]*:events:[^:]*:\d*:event-bus\/(.+)$/.exec(nameOrArn);
  return match ? match[1]! : nameOrArn;
}
