/// <reference lib="dom" />
/**
 * Dead letters: deliveries that used up their retry policy, grouped by subscription, each with
 * its time and reason; redrive one, a subscription's, or all (after confirmation).
 */
import { useEffect, useState } from 'preact/hooks';
import { allPages, call, type Delivery, type Result, type Subscription } from './api.ts';
import { useSession } from './session.ts';
import { ActionButton, FeedbackText, Loaded, RelTime, type Feedback } from './ui.tsx';

export function DeadLetters() {
  const { client, readOnly } = useSession();
  const [letters, setLetters] = useState<Result<Delivery[]>>();
  const [names, setNames] = useState<Record<string, string>>({});
  const [version, setVersion] = useState(0);
  // Redriven letters leave the list, and their buttons with them: the outcome is said up here too.
  const [notice, setNotice] = useState<Feedback>();
  const reload = () => setTimeout(() => setVersion((v) => v + 1), 800);

  useEffect(() => {
    void (async () => {
      setLetters(await allPages((nextToken) => call(client.GET('/v1/dead-letters', { params: { query: { limit: 100, ...(nextToken ? { nextToken } : {}) } } })), 500));
      const subs = await allPages((nextToken) => call(client.GET('/v1/subscriptions', { params: { query: { limit: 100, ...(nextToken ? { nextToken } : {}) } } })));
      if (subs.ok) setNames(Object.fromEntries(subs.data.map((s: Subscription) => [s.id, s.name])));
    })();
  }, [version]);

  const moved = (data: unknown) => `${(data as { count: number }).count} sent back to delivery`;
  const redrive = (body: { subscriptionId?: string; deliveryId?: string }) => async () => {
    const r = await call(client.POST('/v1/dead-letters/redrive', { body }));
    if (r.ok) {
      setNotice({ kind: 'ok', text: moved(r.data) });
      reload();
    }
    return r;
  };

  return (
    <section aria-labelledby="dead-title">
      <div class="title-row">
        <h1 id="dead-title">Dead letters</h1>
        {!readOnly && letters?.ok && letters.data.length > 0 && (
          <ActionButton label="Redrive all" testId="redrive-all" kind="primary"
            confirm={{ title: 'Redrive every dead letter?', body: <p>All {letters.data.length} dead letters go back to delivery and are attempted again under their subscriptions' retry policies.</p>, confirmLabel: 'Redrive all' }}
            run={redrive({})} done={moved} />
        )}
      </div>
      <p><FeedbackText feedback={notice} testId="dead-letters-notice" /></p>
      <Loaded result={letters}>
        {(items) => {
          if (items.length === 0) return <p class="empty" data-testid="no-dead-letters">No dead letters: every delivery succeeded or is still being retried.</p>;
          const groups = new Map<string, Delivery[]>();
          for (const d of items) groups.set(d.subscriptionId, [...(groups.get(d.subscriptionId) ?? []), d]);
          return [...groups.entries()].map(([subscriptionId, group]) => {
            const name = names[subscriptionId] ?? subscriptionId;
            return (
              <section key={subscriptionId} class="group" aria-label={`Dead letters of ${name}`} data-testid="dead-letter-group">
                <div class="title-row">
                  <h2><a href={`#/subscriptions/${subscriptionId}`}>{name}</a> <span class="muted">({group.length})</span></h2>
                  {!readOnly && <ActionButton label="Redrive these" ariaLabel={`Redrive these: the dead letters of ${name}`} testId="redrive-subscription" run={redrive({ subscriptionId })} done={moved} />}
                </div>
                <table class="cards">
                  <thead><tr><th scope="col">When</th><th scope="col">Event type</th><th scope="col">Subject</th><th scope="col">Reason</th><th scope="col">Attempts</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                  <tbody>
                    {group.map((d) => (
                      <tr key={d.id} data-testid="dead-letter" data-delivery={d.id}>
                        <td data-label="When"><RelTime iso={d.finishedAt ?? d.updatedAt ?? d.createdAt} /></td>
                        <td data-label="Event type">{d.eventType}</td>
                        <td data-label="Subject" class="wrap">{d.subject ?? '—'}</td>
                        <td data-label="Reason" class="wrap">{d.reason ?? '—'}</td>
                        <td data-label="Attempts">{d.attemptCount ?? d.attempts.length}</td>
                        <td class="row-actions">{!readOnly && <ActionButton label="Redrive" ariaLabel={`Redrive delivery ${d.id}`} testId="redrive-one" run={redrive({ deliveryId: d.id })} done={moved} />}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            );
          });
        }}
      </Loaded>
    </section>
  );
}
