/// <reference lib="dom" />
/**
 * A subscription's delivery log: one compact row per delivery (expand for the attempt timeline,
 * the request as sent and the responses), a status filter, search by event id or subject, and
 * pages. The API lists by subscription and status; search reads pages until it has a page of
 * matches or has looked through SEARCH_DEPTH deliveries, and says how far it looked.
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type Delivery, type Result, type Subscription } from './api.ts';

type DeliveryStatus = NonNullable<Delivery['status']>;
import { localTime, maskValue } from './format.ts';
import { useSession } from './session.ts';
import { ActionButton, Badge, Loaded, RelTime } from './ui.tsx';

const PAGE = 20;
const SEARCH_DEPTH = 1000;
const STATUSES = ['pending', 'succeeded', 'failed', 'held', 'discarded'] as const;

interface Page {
  items: Delivery[];
  nextToken?: string;
  searched?: number;
}

/** The headers Herald sends to this destination: its own, then the subscription's (values masked). */
function requestHeaders(subscription: Subscription, delivery: Delivery): [string, string][] {
  const d = subscription.destination as { type: string; headers?: Record<string, string> };
  if (d.type === 'eventbridge') return [];
  const own: [string, string][] = [['content-type', 'application/json'], ['user-agent', 'Herald-Webhooks/1']];
  if (d.type === 'webhook') own.push(['webhook-id', delivery.id], ['webhook-timestamp', 'the attempt’s time (Unix seconds)'], ['webhook-signature', 'v1,<signature of this attempt>']);
  return [...own, ...Object.entries(d.headers ?? {}).map(([name, value]): [string, string] => [name, maskValue(value)])];
}

/** The events a delivery carried (a batch carries several), read when the row is expanded. */
const EVENTS_SHOWN = 20;

function Payload({ eventIds }: { eventIds: string[] }) {
  const { client } = useSession();
  const [events, setEvents] = useState<Result<{ id: string; subject?: string; type?: string; data?: unknown }[]>>();
  useEffect(() => {
    void (async () => {
      const read = await Promise.all(eventIds.slice(0, EVENTS_SHOWN).map((id) => call(client.GET('/v1/events/{id}', { params: { path: { id } } }))));
      const failed = read.find((r) => !r.ok);
      setEvents(failed && !failed.ok ? { ok: false, message: failed.status === 404 ? 'The event is past its retention period: its payload is no longer kept.' : failed.message } : { ok: true, data: read.map((r) => (r.ok ? (r.data as { id: string }) : { id: '?' })) });
    })();
  }, [eventIds.join()]);
  return (
    <Loaded result={events}>
      {(items) =>
        items.length === 1 ? (
          <pre class="code" data-testid="payload">{JSON.stringify(items[0], null, 2)}</pre>
        ) : (
          <ul class="batch" data-testid="payload">
            {items.map((e) => (
              <li key={e.id}>
                <details>
                  <summary>{e.subject ?? e.id} <span class="muted">({e.type})</span></summary>
                  <pre class="code">{JSON.stringify(e, null, 2)}</pre>
                </details>
              </li>
            ))}
            {eventIds.length > EVENTS_SHOWN && <li class="muted">and {eventIds.length - EVENTS_SHOWN} more</li>}
          </ul>
        )
      }
    </Loaded>
  );
}

function Expanded({ delivery, subscription }: { delivery: Delivery; subscription: Subscription }) {
  const headers = requestHeaders(subscription, delivery);
  const events = delivery.eventIds ?? [delivery.eventId];
  const transformed = Boolean((subscription.destination as { transform?: string }).transform);
  const thin = (subscription as { payload?: string }).payload === 'thin';
  return (
    <div class="expanded" data-testid="delivery-details">
      <dl class="config">
        <dt>Delivery</dt><dd><code>{delivery.id}</code></dd>
        <dt>{events.length > 1 ? `Events (batch of ${events.length})` : 'Event'}</dt>
        <dd class="wrap">{events.map((e) => <code key={e} class="chip">{e}</code>)}</dd>
        <dt>Subject</dt><dd>{delivery.subject ?? '—'}</dd>
        {delivery.reason && (<><dt>Reason</dt><dd>{delivery.reason}</dd></>)}
        {delivery.nextAttemptAt && (<><dt>Next attempt</dt><dd><RelTime iso={delivery.nextAttemptAt} /></dd></>)}
      </dl>
      <h4>{events.length > 1 ? `Payload: ${events.length} events` : 'Payload'}</h4>
      {(transformed || thin) && <p class="muted small">The event as published; this subscription sends it {transformed ? 'reshaped by its transform' : 'thin (ids and a link)'}.</p>}
      <Payload eventIds={events} />
      {headers.length > 0 && (
        <>
          <h4>Request headers</h4>
          <pre class="code" data-testid="request-headers">{headers.map(([n, v]) => `${n}: ${v}`).join('\n')}</pre>
        </>
      )}
      <h4>Attempts{delivery.attemptCount && delivery.attemptCount > delivery.attempts.length ? ` (last ${delivery.attempts.length} of ${delivery.attemptCount})` : ''}</h4>
      {delivery.attempts.length === 0 ? (
        <p class="muted">No attempt yet.</p>
      ) : (
        <ol class="timeline" data-testid="attempts">
          {delivery.attempts.map((a) => (
            <li key={a.number}>
              <span class="attempt-head">
                #{a.number} · <time dateTime={a.at}>{localTime(a.at)}</time> · {a.statusCode !== undefined ? `HTTP ${a.statusCode}` : a.error ?? 'no answer'} · {Math.round(a.durationMs)} ms
                {a.retryAfterSeconds !== undefined && ` · Retry-After ${a.retryAfterSeconds} s`}
              </span>
              {a.error && <span class="error-text">{a.error}{a.errorMessage ? `: ${a.errorMessage}` : ''}</span>}
              {a.responseExcerpt && <pre class="code excerpt">{a.responseExcerpt}</pre>}
              {a.nextAttemptAt && <span class="muted">next attempt <RelTime iso={a.nextAttemptAt} /></span>}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export function DeliveryLog({ subscription, version }: { subscription: Subscription; version: number }) {
  const { client, readOnly } = useSession();
  const [status, setStatus] = useState<DeliveryStatus | ''>('');
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Result<Page>>();
  const [open, setOpen] = useState<string>();
  const [tick, setTick] = useState(0);
  const current = tokens[tokens.length - 1];

  useEffect(() => {
    let stale = false;
    void (async () => {
      const fetchPage = (nextToken: string | undefined, limit: number) =>
        call(client.GET('/v1/subscriptions/{id}/deliveries', { params: { path: { id: subscription.id }, query: { limit, ...(status ? { status } : {}), ...(nextToken ? { nextToken } : {}) } } }));
      let result: Result<Page>;
      if (!query) {
        result = await fetchPage(current, PAGE);
      } else {
        const needle = query.toLowerCase();
        const items: Delivery[] = [];
        let nextToken = current;
        let searched = 0;
        result = { ok: true, data: { items } };
        do {
          const r = await fetchPage(nextToken, 100);
          if (!r.ok) { result = r; break; }
          searched += r.data.items.length;
          items.push(...r.data.items.filter((d) => [d.eventId, ...(d.eventIds ?? []), d.subject ?? '', d.id].some((v) => v.toLowerCase().includes(needle))));
          nextToken = r.data.nextToken;
        } while (nextToken && items.length < PAGE && searched < SEARCH_DEPTH);
        if (result.ok) result = { ok: true, data: { items, nextToken, searched } };
      }
      if (!stale) setPage(result);
    })();
    return () => { stale = true; };
  }, [subscription.id, status, query, current, version, tick]);

  const restart = () => setTokens([undefined]);
  return (
    <section aria-labelledby="log-title" class="log">
      <div class="title-row">
        <h2 id="log-title">Delivery log</h2>
        <button type="button" onClick={() => setTick((t) => t + 1)} data-testid="refresh-log">Refresh</button>
      </div>
      <form class="filters" role="search" onSubmit={(e) => (e.preventDefault(), restart(), setQuery(search.trim()))}>
        <label>
          Search by event id or subject
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} data-testid="log-search" />
        </label>
        <button type="submit">Search</button>
        <label>
          Status
          <select value={status} onChange={(e) => (restart(), setStatus(e.currentTarget.value as DeliveryStatus | ''))} data-testid="status-filter">
            <option value="">all</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </form>
      <Loaded result={page}>
        {({ items, nextToken, searched }) => (
          <>
            {searched !== undefined && <p class="muted" role="status">{items.length} match{items.length === 1 ? '' : 'es'} for “{query}” in {searched} deliveries{nextToken ? ' (more further back: next page)' : ''}.</p>}
            {items.length === 0 ? (
              <p class="empty" data-testid="log-empty">
                {query ? `No delivery matches “${query}”.` : status ? `No ${status} deliveries.` : 'No deliveries yet: they appear here when an event of these types is published, or when you send a test event.'}
              </p>
            ) : (
              <table class="cards log-table" data-testid="delivery-log">
                <thead><tr><th scope="col">When</th><th scope="col">Event type</th><th scope="col">Status</th><th scope="col">HTTP</th><th scope="col">Attempts</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                <tbody>
                  {items.map((d) => {
                    const last = d.attempts[d.attempts.length - 1];
                    const expanded = open === d.id;
                    return (
                      <Fragment key={d.id}>
                        <tr data-testid="delivery-row" data-delivery={d.id} class={expanded ? 'open' : ''}>
                          <td data-label="When"><RelTime iso={d.createdAt} /></td>
                          <td data-label="Event type" class="wrap">{d.eventType}{d.eventIds && d.eventIds.length > 1 ? ` ×${d.eventIds.length}` : ''}{d.subject ? <span class="muted"> · {d.subject}</span> : null}</td>
                          <td data-label="Status"><Badge value={d.status} testId="delivery-status" /></td>
                          <td data-label="HTTP" data-testid="delivery-code">{last?.statusCode ?? (last?.error ? last.error : '—')}</td>
                          <td data-label="Attempts">{d.attemptCount ?? d.attempts.length}</td>
                          <td class="row-actions">
                            <button type="button" aria-expanded={expanded} aria-controls={`details-${d.id}`} aria-label={`${expanded ? 'Hide' : 'Show'} details of delivery ${d.id}`} data-testid="expand" onClick={() => setOpen(expanded ? undefined : d.id)}>
                              {expanded ? 'Hide' : 'Details'}
                            </button>
                            {!readOnly && (
                              <ActionButton label="Resend" ariaLabel={`Resend delivery ${d.id}`} testId="resend"
                                run={async () => { const r = await call(client.POST('/v1/deliveries/{id}/resend', { params: { path: { id: d.id } }, body: {} })); setTimeout(() => setTick((t) => t + 1), 1000); return r; }}
                                done={(data) => `Resent as ${(data as { deliveryId: string }).deliveryId}`} />
                            )}
                          </td>
                        </tr>
                        {expanded && (
                          <tr class="details-row" id={`details-${d.id}`}>
                            <td colSpan={6}><Expanded delivery={d} subscription={subscription} /></td>
                          </tr>
                        )}
                      </Fragment>
                    );
                  })}
                </tbody>
              </table>
            )}
            <nav class="pager" aria-label="Delivery log pages">
              <button type="button" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>Newer</button>
              <span>Page {tokens.length}</span>
              <button type="button" disabled={!nextToken} data-testid="next-page" onClick={() => setTokens([...tokens, nextToken])}>Older</button>
            </nav>
          </>
        )}
      </Loaded>
    </section>
  );
}
