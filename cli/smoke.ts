/**
 * `herald smoke`: the whole delivery path of a running Herald (a deployed stack, or `npm start`),
 * end to end through its public API and the self-test receiver (lambdas/core/self-test.ts):
 *
 *   receiver      register a run (its id and a signing secret) with the receiver (admin key)
 *   tenant        create a tenant for the run (admin key)
 *   subscriptions three, signing with the run's secret: delivered, retried, dead-lettered
 *   publish       one event for each
 *   delivery      the receiver verified the signature and answered 204; Herald says succeeded
 *   retry         the first attempt got 500, the retry 204, both signed
 *   dead letter   a one-attempt policy parks the failed delivery in the dead letters
 *   redrive       redriving it delivers it
 *   cleanup       subscriptions deleted, the tenant's key revoked, the run forgotten
 *
 * Cleanup runs whatever failed. The tenant record stays (the API deletes no tenants): it is named
 * `herald-smoke-<run id>` and holds no key and no subscription afterwards.
 */
import { randomBytes } from 'node:crypto';

export interface SmokeOptions {
  /** Herald's API, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod */
  url: string;
  adminKey: string;
  /** The self-test receiver's base URL (the stack's SelfTestReceiverUrl output). */
  receiver: string;
  /** Event type to publish; default: the first catalogue type with an example not Herald's own. */
  eventType?: string;
  timeoutMs: number;
  /** Progress, one line per step. */
  report: (step: SmokeStep) => void;
}

export interface SmokeStep {
  step: string;
  ok: boolean;
  detail: string;
  ms: number;
}

interface Answer {
  status: number;
  body: any;
}

class SmokeFailure extends Error {}

async function request(method: string, url: string, key: string | undefined, body?: unknown): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new SmokeFailure(`cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text for the message
  }
  return { status: res.status, body: parsed };
}

function expectStatus(what: string, answer: Answer, ...statuses: number[]): any {
  if (statuses.includes(answer.status)) return answer.body;
  const detail = typeof answer.body === 'object' && answer.body ? (answer.body.detail ?? JSON.stringify(answer.body)) : String(answer.body ?? '');
  throw new SmokeFailure(`${what}: HTTP ${answer.status}${detail ? ` (${detail})` : ''}`);
}

interface ReceivedHook {
  webhookId: string;
  arrival: number;
  verified: boolean;
  verifyError?: string;
  status: number;
  subject?: string;
}

/** Runs the smoke test; resolves to the steps (the last one failed if any did). */
export async function runSmoke(options: SmokeOptions): Promise<{ ok: boolean; steps: SmokeStep[] }> {
  const api = options.url.replace(/\/+$/, '');
  const receiver = options.receiver.replace(/\/+$/, '');
  const runId = `smoke-${randomBytes(6).toString('hex')}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const deadline = Date.now() + options.timeoutMs;
  const steps: SmokeStep[] = [];
  const subscriptions: string[] = [];
  let tenant: { id: string; apiKey: string; prefix?: string } | undefined;
  let registered = false;

  const step = async <T>(name: string, work: () => Promise<[T, string]>): Promise<T> => {
    const started = Date.now();
    try {
      const [value, detail] = await work();
      const done = { step: name, ok: true, detail, ms: Date.now() - started };
      steps.push(done);
      options.report(done);
      return value;
    } catch (error) {
      const failed = { step: name, ok: false, detail: (error as Error).message, ms: Date.now() - started };
      steps.push(failed);
      options.report(failed);
      throw error;
    }
  };

  /** Polls until `probe` returns a value or the run's deadline passes. */
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new SmokeFailure(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const received = async (): Promise<ReceivedHook[]> => expectStatus('reading the receiver', await request('GET', `${receiver}/runs/${runId}`, options.adminKey), 200).items;
  const arrivals = async (subject: string) => (await received()).filter((h) => h.subject === subject).sort((a, b) => a.arrival - b.arrival);
  const signed = (hooks: ReceivedHook[]) => {
    const bad = hooks.find((h) => !h.verified);
    if (bad) throw new SmokeFailure(`delivery ${bad.webhookId} failed signature verification at the receiver: ${bad.verifyError}`);
  };
  const delivery = async (subscriptionId: string, status: string) =>
    until(`a ${status} delivery on ${subscriptionId}`, async () => {
      const page = expectStatus('listing deliveries', await request('GET', `${api}/v1/subscriptions/${subscriptionId}/deliveries`, tenant!.apiKey), 200);
      const found = (page.items as { id: string; status: string; attempts: unknown[]; attemptCount?: number }[]).find((d) => d.status === status);
      return found;
    });

  try {
    await step('receiver', async () => {
      expectStatus(`registering run ${runId} with the self-test receiver`, await request('PUT', `${receiver}/runs/${runId}`, options.adminKey, { secret }), 201);
      registered = true;
      return [undefined, `run ${runId} registered at ${receiver}`];
    });

    tenant = await step('tenant', async () => {
      const created = expectStatus('creating the smoke tenant (needs the admin key)', await request('POST', `${api}/v1/tenants`, options.adminKey, { name: `herald-smoke-${runId}` }), 201);
      return [created, `${created.id}`];
    });

    let type = '';
    let data: unknown;
    const subject = (kind: string) => `${runId}-${kind}`;
    const subscribe = async (kind: string, behaviour: string, retryPolicy: unknown) => {
      const body = {
        name: `smoke ${kind}`,
        eventTypes: [type],
        filter: { subject: [subject(kind)] },
        destination: { type: 'webhook', url: `${receiver}/hooks/${runId}/${behaviour}` },
        retryPolicy,
        secret,
      };
      const created = expectStatus(`creating the ${kind} subscription`, await request('POST', `${api}/v1/subscriptions`, tenant!.apiKey, body), 201);
      subscriptions.push(created.id);
      return created.id as string;
    };
    const [delivered, retried, dead] = await step('subscriptions', async () => {
      ({ type, data } = await eventToPublish(api, options));
      const ids = [
        await subscribe('delivered', 'ok', { schedule: [1], maxAttempts: 3 }),
        await subscribe('retried', 'fail-once', { schedule: [1], maxAttempts: 3 }),
        await subscribe('dead', 'fail-once', { schedule: [], maxAttempts: 1 }),
      ];
      return [ids, `${ids.join(', ')} (${type})`];
    });

    await step('publish', async () => {
      const ids: string[] = [];
      for (const kind of ['delivered', 'retried', 'dead']) {
        const published = expectStatus(`publishing ${type}`, await request('POST', `${api}/v1/events`, options.adminKey, { tenantId: tenant!.id, type, subject: subject(kind), data }), 202);
        ids.push(published.id);
      }
      return [undefined, `${type} × 3: ${ids.join(', ')}`];
    });

    await step('delivery', async () => {
      const [hook] = await until('the receiver to get the delivery', async () => {
        const got = await arrivals(subject('delivered'));
        return got.length ? got : undefined;
      });
      signed([hook!]);
      if (hook!.status !== 204) throw new SmokeFailure(`the receiver answered ${hook!.status}`);
      await delivery(delivered!, 'succeeded');
      return [undefined, `${hook!.webhookId} signed, verified, answered 204; Herald: succeeded`];
    });

    await step('retry', async () => {
      const hooks = await until('the retry to arrive', async () => {
        const got = await arrivals(subject('retried'));
        return got.length >= 2 ? got : undefined;
      });
      signed(hooks);
      if (hooks[0]!.status !== 500 || hooks[1]!.status !== 204 || hooks[0]!.webhookId !== hooks[1]!.webhookId) {
        throw new SmokeFailure(`expected 500 then 204 for one webhook id, got ${hooks.map((h) => `${h.webhookId}:${h.status}`).join(', ')}`);
      }
      const done = await delivery(retried!, 'succeeded');
      return [undefined, `${hooks[0]!.webhookId}: 500, then 204 on attempt ${done.attemptCount ?? done.attempts.length}`];
    });

    const letter = await step('dead letter', async () => {
      const found = await until('the dead letter', async () => {
        const page = expectStatus('listing dead letters', await request('GET', `${api}/v1/dead-letters?subscriptionId=${dead}`, tenant!.apiKey), 200);
        return (page.items as { id: string; reason?: string }[])[0];
      });
      signed(await arrivals(subject('dead')));
      return [found, `${found.id}: ${found.reason ?? 'failed'}`];
    });

    await step('redrive', async () => {
      const redriven = expectStatus('redriving', await request('POST', `${api}/v1/dead-letters/redrive`, tenant!.apiKey, { subscriptionId: dead }), 202);
      if (redriven.count !== 1) throw new SmokeFailure(`redrive moved ${redriven.count} dead letters, expected 1`);
      const hooks = await until('the redriven delivery', async () => {
        const got = await arrivals(subject('dead'));
        return got.some((h) => h.status === 204) ? got : undefined;
      });
      signed(hooks);
      await delivery(dead!, 'succeeded');
      return [undefined, `${letter.id} redriven and delivered (204)`];
    });
  } catch (error) {
    if (!(error instanceof SmokeFailure)) throw error;
  } finally {
    await step('cleanup', async () => {
      const problems: string[] = [];
      for (const id of subscriptions) {
        const answer = await request('DELETE', `${api}/v1/subscriptions/${id}`, tenant!.apiKey).catch((e: Error) => ({ status: 0, body: e.message }));
        if (answer.status !== 204 && answer.status !== 404) problems.push(`subscription ${id}: HTTP ${answer.status}`);
      }
      if (tenant?.apiKey) {
        const prefix = /^hk_([^_]+)_/.exec(tenant.apiKey)?.[1];
        const answer = await request('DELETE', `${api}/v1/keys/${prefix}?tenantId=${tenant.id}`, options.adminKey).catch((e: Error) => ({ status: 0, body: e.message }));
        if (answer.status !== 204) problems.push(`tenant key: HTTP ${answer.status}`);
      }
      if (registered) {
        const answer = await request('DELETE', `${receiver}/runs/${runId}`, options.adminKey).catch((e: Error) => ({ status: 0, body: e.message }));
        if (answer.status !== 204) problems.push(`receiver run: HTTP ${answer.status}`);
      }
      if (problems.length) throw new SmokeFailure(`left behind: ${problems.join('; ')}`);
      return [undefined, `${subscriptions.length} subscription(s) deleted${tenant ? `, tenant ${tenant.id} has no key left` : ''}${registered ? ', run forgotten' : ''}`];
    }).catch(() => undefined);
  }
  return { ok: steps.every((s) => s.ok), steps };
}

/** The event the smoke test publishes: the catalogue's example, so it passes validation. */
async function eventToPublish(api: string, options: SmokeOptions): Promise<{ type: string; data: unknown }> {
  const listing = expectStatus('reading the event catalogue', await request('GET', `${api}/v1/event-types`, options.adminKey), 200);
  const types = listing.items as { type: string; origin?: string; versions: { example?: unknown }[] }[];
  const chosen = options.eventType
    ? types.find((t) => t.type === options.eventType)
    : types.find((t) => t.origin !== 'herald' && t.versions.at(-1)?.example !== undefined);
  if (!chosen) throw new SmokeFailure(options.eventType ? `no event type ${options.eventType} in the catalogue` : 'the catalogue has no event type with an example to publish');
  return { type: chosen.type, data: chosen.versions.at(-1)!.example };
}
