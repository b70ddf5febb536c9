/// <reference lib="dom" />
/**
 * The subscription list (health per subscription) and one subscription's page: status and
 * health, 24 h success rate, last error, dead letters, the whole configuration, the actions
 * (edit, pause/resume, test, rotate, delete), its stats chart and delivery log.
 */
import { useEffect, useState } from 'preact/hooks';
import { allPages, call, type Result, type Stats, type Subscription } from './api.ts';
import { destinationSummary, healthOf, isSigned, lastErrorText, maskValue, percent, retryPolicyInWords, type Health } from './format.ts';
import { useSession } from './session.ts';
import { ActionButton, Badge, Loaded, RelTime, SecretDialog } from './ui.tsx';
import { DeliveryLog } from './deliveries.tsx';
import { StatsPanel } from './stats-chart.tsx';

interface Row {
  subscription: Subscription;
  stats?: Stats;
  deadLetters?: number;
}

/** Dead letters of one subscription, counted up to 100 ("100+" past it). */
async function deadLetterCount(client: ReturnType<typeof useSession>['client'], subscriptionId: string): Promise<string> {
  const page = await call(client.GET('/v1/dead-letters', { params: { query: { subscriptionId, limit: 100 } } }));
  if (!page.ok) return '?';
  return page.data.nextToken ? `${page.data.items.length}+` : String(page.data.items.length);
}

export function SubscriptionList() {
  const { client, readOnly } = useSession();
  const [rows, setRows] = useState<Result<Row[]>>();
  useEffect(() => {
    void (async () => {
      const list = await allPages((nextToken) => call(client.GET('/v1/subscriptions', { params: { query: { limit: 100, ...(nextToken ? { nextToken } : {}) } } })));
      if (!list.ok) return setRows(list);
      setRows({ ok: true, data: list.data.map((subscription) => ({ subscription })) });
      // Health needs each subscription's stats: shown as they arrive.
      const withHealth = await Promise.all(
        list.data.map(async (subscription) => {
          const stats = await call(client.GET('/v1/subscriptions/{id}/stats', { params: { path: { id: subscription.id } } }));
          return { subscription, stats: stats.ok ? stats.data : undefined };
        }),
      );
      setRows({ ok: true, data: withHealth });
    })();
  }, []);
  return (
    <section aria-labelledby="subscriptions-title">
      <div class="title-row">
        <h1 id="subscriptions-title">Subscriptions</h1>
        {!readOnly && <a class="button primary" href="#/new">New subscription</a>}
      </div>
      <Loaded result={rows}>
        {(items) =>
          items.length === 0 ? (
            <div class="empty" data-testid="no-subscriptions">
              <p>No subscriptions yet. A subscription sends the events you choose to a webhook, an HTTP API or an EventBridge bus.</p>
              {!readOnly && <a class="button primary" href="#/new">Create the first one</a>}
            </div>
          ) : (
            <table class="cards" data-testid="subscription-list">
              <thead>
                <tr><th scope="col">Name</th><th scope="col">Destination</th><th scope="col">Event types</th><th scope="col">Status</th><th scope="col">Health</th><th scope="col">Success 24 h</th></tr>
              </thead>
              <tbody>
                {items.map(({ subscription: s, stats }) => (
                  <tr key={s.id} data-testid={`subscription-${s.id}`}>
                    <td data-label="Name"><a href={`#/subscriptions/${s.id}`}>{s.name}</a></td>
                    <td data-label="Destination" class="wrap">{destinationSummary(s.destination)}</td>
                    <td data-label="Event types" class="wrap">{s.eventTypes.join(', ')}</td>
                    <td data-label="Status"><Badge value={s.status} testId="subscription-status" /></td>
                    <td data-label="Health"><Badge value={healthOf(s, stats)} testId="subscription-health" /></td>
                    <td data-label="Success 24 h">{stats ? percent(stats.windows['24h']?.successRate) : '…'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </section>
  );
}

type AnyDestination = { type: string; url?: string; method?: string; eventBusArn?: string; source?: string; detailType?: string; headers?: Record<string, string>; timeoutSeconds?: number; transform?: string; auth?: { type: string; header?: string; username?: string; tokenUrl?: string; clientId?: string } };

function Configuration({ s }: { s: Subscription }) {
  const d = s.destination as AnyDestination;
  const headers = Object.entries(d.headers ?? {});
  const sub = s as Subscription & { batching?: { maxItems: number; intervalSeconds: number }; ordering?: string; payload?: string; filter?: unknown; retryPolicy?: never; description?: string };
  return (
    <dl class="config" data-testid="configuration">
      <dt>Destination</dt>
      <dd class="wrap">{destinationSummary(s.destination)}</dd>
      {d.type === 'eventbridge' && (d.source || d.detailType) && (<><dt>Event source / detail type</dt><dd>{d.source ?? 'default'} / {d.detailType ?? 'the event type'}</dd></>)}
      {d.auth && (<><dt>Authentication</dt><dd>{d.auth.type === 'api_key' ? `API key in ${d.auth.header}` : d.auth.type === 'basic' ? `Basic, user ${d.auth.username}` : `OAuth 2 client ${d.auth.clientId} at ${d.auth.tokenUrl}`} (credentials are write-only)</dd></>)}
      <dt>Signing</dt>
      <dd>
        {!isSigned(s)
          ? 'Not signed (this destination type has no signing secret)'
          : (s as { signature?: string }).signature === 'ed25519'
            ? <>Standard Webhooks v1a (ed25519): receivers verify with the public key <code class="wrap">{(s as { publicKey?: string }).publicKey}</code></>
            : 'Standard Webhooks signature (webhook-signature header)'}
      </dd>
      <dt>Event types</dt>
      <dd>{s.eventTypes.map((t) => <code key={t} class="chip">{t}</code>)}</dd>
      <dt>Filter</dt>
      <dd>{sub.filter ? <pre class="code">{JSON.stringify(sub.filter, null, 2)}</pre> : 'none: every event of these types'}</dd>
      <dt>Retry policy</dt>
      <dd data-testid="retry-words">{retryPolicyInWords(s.retryPolicy as never)}</dd>
      <dt>Rate limit</dt>
      <dd data-testid="rate-limit">{s.rateLimit ? `at most ${s.rateLimit.perSecond} requests a second${s.rateLimit.burst ? `, bursts of ${s.rateLimit.burst}` : ''}` : 'none'}{s.maxConcurrency ? `; at most ${s.maxConcurrency} at once` : ''}</dd>
      <dt>Batching</dt>
      <dd>{sub.batching ? `up to ${sub.batching.maxItems} events of one type per notification, every ${sub.batching.intervalSeconds} s` : 'off: one notification per event'}</dd>
      <dt>Ordering</dt>
      <dd>{sub.ordering === 'subject' ? 'per subject: events of one subject arrive one at a time, in publish order' : 'none: deliveries run in parallel'}</dd>
      <dt>Payload</dt>
      <dd>{sub.payload === 'thin' ? 'thin: ids and a link, not the data' : 'full event'}</dd>
      {d.type !== 'eventbridge' && (<><dt>Timeout</dt><dd>{d.timeoutSeconds ?? 10} s per attempt</dd></>)}
      {d.type !== 'eventbridge' && (
        <>
          <dt>Headers</dt>
          <dd data-testid="headers">{headers.length === 0 ? 'none' : headers.map(([name, value]) => <div key={name}><code>{name}: {maskValue(value)}</code></div>)}</dd>
        </>
      )}
      {d.transform && (<><dt>Transform</dt><dd><pre class="code">{d.transform}</pre></dd></>)}
    </dl>
  );
}

export function SubscriptionDetail({ id }: { id: string }) {
  const { client, readOnly } = useSession();
  const [sub, setSub] = useState<Result<Subscription>>();
  const [stats, setStats] = useState<Stats>();
  const [deadLetters, setDeadLetters] = useState<string>('…');
  const [secret, setSecret] = useState<{ secret: string; previousExpiresAt?: string }>();
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);

  useEffect(() => {
    void (async () => {
      setSub(await call(client.GET('/v1/subscriptions/{id}', { params: { path: { id } } })));
      const s = await call(client.GET('/v1/subscriptions/{id}/stats', { params: { path: { id } } }));
      setStats(s.ok ? s.data : undefined);
      setDeadLetters(await deadLetterCount(client, id));
    })();
  }, [id, version]);

  const path = { params: { path: { id } }, body: {} };
  return (
    <Loaded result={sub}>
      {(s) => {
        const day = stats?.windows['24h'];
        return (
          <article aria-labelledby="detail-title">
            <p><a href="#/">← All subscriptions</a></p>
            <div class="title-row">
              <h1 id="detail-title">{s.name}</h1>
              <Badge value={s.status} testId="detail-status" />
              <Badge value={healthOf(s, stats)} testId="detail-health" />
            </div>
            {s.status === 'paused' && (s as { pausedReason?: string }).pausedReason && <p class="muted">Paused: {(s as { pausedReason?: string }).pausedReason}</p>}
            {!readOnly && (
              <div class="actions" data-testid="detail-actions">
                <a class="button" href={`#/subscriptions/${s.id}/edit`}>Edit</a>
                {s.status === 'active' ? (
                  <ActionButton label="Pause" testId="pause" run={async () => { const r = await call(client.POST('/v1/subscriptions/{id}/pause', path)); if (r.ok) reload(); return r; }} done={() => 'Paused: new deliveries are held'} />
                ) : (
                  <ActionButton label="Resume" testId="resume" run={async () => { const r = await call(client.POST('/v1/subscriptions/{id}/resume', path)); if (r.ok) reload(); return r; }} done={(d) => `Resumed; ${(d as { released?: number }).released ?? 0} held deliveries released`} />
                )}
                <ActionButton label="Send test event" testId="send-test" run={async () => { const r = await call(client.POST('/v1/subscriptions/{id}/test', path)); setTimeout(reload, 1500); return r; }} done={(d) => `Test event sent (delivery ${(d as { deliveryId: string }).deliveryId})`} />
                {isSigned(s) && (
                  <ActionButton
                    label="Rotate secret"
                    testId="rotate"
                    confirm={{ title: `Rotate the signing secret of ${s.name}?`, body: <p>A new secret signs from now on; the current one keeps signing beside it for a grace period, so receivers can switch without failed checks.</p>, confirmLabel: 'Rotate' }}
                    run={async () => {
                      const r = await call(client.POST('/v1/subscriptions/{id}/rotate-secret', path));
                      if (r.ok && r.data.secret) setSecret({ secret: r.data.secret, previousExpiresAt: (r.data as { previousSecretExpiresAt?: string }).previousSecretExpiresAt });
                      return r;
                    }}
                    done={() => 'Secret rotated'}
                  />
                )}
                <ActionButton
                  label="Delete"
                  kind="danger"
                  testId="delete"
                  confirm={{ title: `Delete ${s.name}?`, body: <p>Herald stops delivering to {destinationSummary(s.destination)} at once. Its delivery log stays readable through the API until it expires. This cannot be undone.</p>, confirmLabel: 'Delete subscription', danger: true }}
                  run={async () => {
                    const r = await call(client.DELETE('/v1/subscriptions/{id}', { params: { path: { id } } }));
                    if (r.ok) location.hash = '#/';
                    return r;
                  }}
                />
              </div>
            )}
            <div class="tiles">
              <div class="tile"><span class="tile-label">Success rate, 24 h</span><span class="tile-value" data-testid="success-24h">{percent(day?.successRate)}</span><span class="muted">{day?.attempts ?? 0} attempts</span></div>
              <div class="tile"><span class="tile-label">Last error</span><span class="tile-value small wrap" data-testid="last-error">{lastErrorText(stats?.lastError)}</span>{(stats?.lastError as { at?: string } | null)?.at && <RelTime iso={(stats!.lastError as { at: string }).at} />}</div>
              <div class="tile"><span class="tile-label">Dead letters</span><span class="tile-value" data-testid="dead-letter-count">{deadLetters}</span>{deadLetters !== '0' && deadLetters !== '…' && <a href="#/dead-letters">See dead letters</a>}</div>
              <div class="tile"><span class="tile-label">Last success</span><span class="tile-value small"><RelTime iso={stats?.lastSuccessAt} /></span></div>
              {stats?.throttle && (
                <div class="tile" data-testid="throttle-state">
                  <span class="tile-label">Throttle</span>
                  <span class="tile-value small">{stats.throttle.effectivePerSecond === null ? 'no rate in force' : `${stats.throttle.effectivePerSecond} /s in force`}</span>
                  <span class="muted">
                    {stats.throttle.backpressure ? `slowed by the receiver (${stats.throttle.backpressure.signal.replace('http_', 'HTTP ')}) for ${stats.throttle.backpressure.throttledSeconds} s; ` : ''}
                    {stats.throttle.inFlight !== undefined ? `${stats.throttle.inFlight} in flight; ` : ''}
                    {stats.throttle.delayedDeliveries} waited for a slot
                  </span>
                </div>
              )}
            </div>
            <section aria-labelledby="config-title">
              <h2 id="config-title">Configuration</h2>
              <Configuration s={s} />
            </section>
            <StatsPanel stats={stats} />
            <DeliveryLog subscription={s} version={version} />
            {secret && <SecretDialog {...secret} onClose={() => setSecret(undefined)} />}
          </article>
        );
      }}
    </Loaded>
  );
}
