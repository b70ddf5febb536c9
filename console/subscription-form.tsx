/// <reference lib="dom" />
/**
 * Guided create and edit: destination (webhook, HTTP API, EventBridge bus), event types chosen
 * from the catalogue with descriptions and examples, a retry preset in plain words with its
 * schedule, a filter tested against an example event before saving (Herald's own matcher, the
 * one fan-out runs, bundled: it is pure), headers, timeout, batching, ordering, payload mode.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { matchesEventPattern, validateEventPattern } from '#core/event-pattern';
import { call, type Result, type Subscription } from './api.ts';
import { PRESETS, retrySchedule } from './format.ts';
import { useSession } from './session.ts';
import { FeedbackText, Loaded, SecretDialog, type Feedback } from './ui.tsx';

interface CatalogueType {
  type: string;
  description: string;
  versions: { version: number; example: unknown }[];
}

type DestinationType = 'webhook' | 'http' | 'eventbridge';
type AuthType = 'none' | 'api_key' | 'basic' | 'oauth2';

interface FormState {
  name: string;
  description: string;
  destinationType: DestinationType;
  url: string;
  method: 'POST' | 'PUT' | 'PATCH';
  authType: AuthType;
  authHeader: string;
  authValue: string;
  username: string;
  password: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  eventBusArn: string;
  source: string;
  detailType: string;
  eventTypes: string[];
  otherPatterns: string;
  preset: string;
  customRetry?: unknown;
  filter: string;
  headers: { name: string; value: string }[];
  timeoutSeconds: string;
  batching: boolean;
  maxItems: string;
  intervalSeconds: string;
  ordering: 'none' | 'subject';
  payload: 'full' | 'thin';
}

const EMPTY: FormState = {
  name: '', description: '', destinationType: 'webhook', url: '', method: 'POST', authType: 'none', authHeader: '', authValue: '', username: '', password: '', tokenUrl: '', clientId: '', clientSecret: '', scope: '',
  eventBusArn: '', source: '', detailType: '', eventTypes: [], otherPatterns: '', preset: 'default', filter: '', headers: [], timeoutSeconds: '', batching: false, maxItems: '100', intervalSeconds: '60', ordering: 'none', payload: 'full',
};

const DESTINATIONS: { type: DestinationType; label: string; help: string }[] = [
  { type: 'webhook', label: 'Webhook', help: 'POST to your URL, signed with Standard Webhooks (a signing secret is shown once)' },
  { type: 'http', label: 'HTTP API', help: 'Call a third-party API with its own authentication (API key, Basic or OAuth 2); not signed' },
  { type: 'eventbridge', label: 'EventBridge bus', help: 'Put events on an Amazon EventBridge bus in your AWS account; not signed' },
];

function fromSubscription(s: Subscription): FormState {
  const d = s.destination as Record<string, unknown> & { type: DestinationType; headers?: Record<string, string>; auth?: Record<string, string> };
  const known = new Set<string>();
  const sub = s as Subscription & { filter?: unknown; batching?: { maxItems: number; intervalSeconds: number }; retryPolicy?: Record<string, unknown> };
  const policy = sub.retryPolicy;
  return {
    ...EMPTY,
    name: s.name,
    description: (s as { description?: string }).description ?? '',
    destinationType: d.type,
    url: (d.url as string) ?? '',
    method: (d.method as FormState['method']) ?? 'POST',
    authType: (d.auth?.type as AuthType) ?? 'none',
    authHeader: d.auth?.header ?? '',
    username: d.auth?.username ?? '',
    tokenUrl: d.auth?.tokenUrl ?? '',
    clientId: d.auth?.clientId ?? '',
    scope: d.auth?.scope ?? '',
    eventBusArn: (d.eventBusArn as string) ?? '',
    source: (d.source as string) ?? '',
    detailType: (d.detailType as string) ?? '',
    eventTypes: s.eventTypes.filter((t) => (known.add(t), true)),
    preset: !policy ? 'default' : 'preset' in policy ? String(policy.preset) : 'custom',
    customRetry: policy && !('preset' in policy) ? policy : undefined,
    filter: sub.filter ? JSON.stringify(sub.filter, null, 2) : '',
    headers: Object.entries(d.headers ?? {}).map(([name, value]) => ({ name, value })),
    timeoutSeconds: d.timeoutSeconds ? String(d.timeoutSeconds) : '',
    batching: Boolean(sub.batching),
    maxItems: String(sub.batching?.maxItems ?? 100),
    intervalSeconds: String(sub.batching?.intervalSeconds ?? 60),
    ordering: (s as { ordering?: 'none' | 'subject' }).ordering ?? 'none',
    payload: (s as { payload?: 'full' | 'thin' }).payload ?? 'full',
  };
}

function destinationOf(f: FormState): Record<string, unknown> {
  if (f.destinationType === 'eventbridge') {
    return { type: 'eventbridge', eventBusArn: f.eventBusArn.trim(), ...(f.source.trim() ? { source: f.source.trim() } : {}), ...(f.detailType.trim() ? { detailType: f.detailType.trim() } : {}) };
  }
  const headers = Object.fromEntries(f.headers.filter((h) => h.name.trim()).map((h) => [h.name.trim(), h.value]));
  const common = {
    url: f.url.trim(),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(f.timeoutSeconds.trim() ? { timeoutSeconds: Number(f.timeoutSeconds) } : {}),
  };
  if (f.destinationType === 'webhook') return { type: 'webhook', ...common };
  const auth =
    f.authType === 'api_key' ? { type: 'api_key', header: f.authHeader.trim(), value: f.authValue }
      : f.authType === 'basic' ? { type: 'basic', username: f.username, password: f.password }
        : f.authType === 'oauth2' ? { type: 'oauth2', tokenUrl: f.tokenUrl.trim(), clientId: f.clientId, clientSecret: f.clientSecret, ...(f.scope.trim() ? { scope: f.scope.trim() } : {}) }
          : undefined;
  return { type: 'http', method: f.method, ...common, ...(auth ? { auth } : {}) };
}

/** The request body; `filter` is parsed here and a bad one reported by the field. */
function bodyOf(f: FormState, editing: boolean): { body?: Record<string, unknown>; problem?: string } {
  let filter: unknown = null;
  if (f.filter.trim()) {
    try {
      filter = JSON.parse(f.filter);
    } catch (error) {
      return { problem: `Filter: not JSON (${(error as Error).message})` };
    }
  }
  const eventTypes = [...f.eventTypes, ...f.otherPatterns.split(',').map((t) => t.trim()).filter(Boolean)];
  const retryPolicy = f.preset === 'custom' ? f.customRetry : f.preset === 'default' ? null : { preset: f.preset };
  const body: Record<string, unknown> = {
    name: f.name.trim(),
    ...(f.description.trim() ? { description: f.description.trim() } : {}),
    eventTypes,
    destination: destinationOf(f),
    ordering: f.ordering,
    payload: f.payload,
    batching: f.batching ? { maxItems: Number(f.maxItems), intervalSeconds: Number(f.intervalSeconds) } : null,
    filter,
    retryPolicy,
  };
  if (!editing) for (const key of ['batching', 'filter', 'retryPolicy']) if (body[key] === null) delete body[key];
  return { body };
}

function EventTypePicker({ catalogue, selected, onChange }: { catalogue: CatalogueType[]; selected: string[]; onChange: (types: string[]) => void }) {
  const [needle, setNeedle] = useState('');
  const shown = catalogue.filter((t) => !needle || t.type.includes(needle.toLowerCase()) || t.description.toLowerCase().includes(needle.toLowerCase()));
  return (
    <fieldset class="event-types" data-testid="event-types">
      <legend>Event types ({selected.length} chosen of {catalogue.length})</legend>
      <label>Find an event type <input type="search" value={needle} onInput={(e) => setNeedle(e.currentTarget.value)} /></label>
      <ul class="type-list">
        {shown.map((t) => {
          const example = t.versions[t.versions.length - 1]?.example;
          const id = `type-${t.type.replace(/\W/g, '-')}`;
          return (
            <li key={t.type}>
              <input type="checkbox" id={id} value={t.type} checked={selected.includes(t.type)} onChange={(e) => onChange(e.currentTarget.checked ? [...selected, t.type] : selected.filter((s) => s !== t.type))} />
              <label for={id}><code>{t.type}</code> <span class="muted">{t.description}</span></label>
              {example !== undefined && (
                <details>
                  <summary>Example payload<span class="sr-only"> of {t.type}</span></summary>
                  <pre class="code">{JSON.stringify(example, null, 2)}</pre>
                </details>
              )}
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}

function FilterEditor({ value, onChange, catalogue, types }: { value: string; onChange: (v: string) => void; catalogue: CatalogueType[]; types: string[] }) {
  const choices = catalogue.filter((t) => types.length === 0 || types.includes(t.type));
  const [exampleType, setExampleType] = useState<string>('');
  const [outcome, setOutcome] = useState<Feedback>();
  const typeName = exampleType || choices[0]?.type || catalogue[0]?.type || '';
  const entry = catalogue.find((t) => t.type === typeName);
  // The envelope fan-out matches filters against (lambdas/core/envelope.ts).
  const example = { specversion: '1.0', id: 'evt_example', source: 'herald', type: typeName, time: new Date().toISOString(), subject: 'example-1', datacontenttype: 'application/json', data: entry?.versions[entry.versions.length - 1]?.example ?? {} };
  const test = () => {
    if (!value.trim()) return setOutcome({ kind: 'ok', text: 'No filter: every event of the chosen types is delivered.' });
    let pattern: unknown;
    try {
      pattern = JSON.parse(value);
    } catch (error) {
      return setOutcome({ kind: 'error', text: `Not JSON: ${(error as Error).message}` });
    }
    const problems = validateEventPattern(pattern);
    if (problems.length) return setOutcome({ kind: 'error', text: problems.map((p) => `${p.path ? `${p.path}: ` : ''}${p.message}`).join('; ') });
    setOutcome(matchesEventPattern(pattern as never, example) ? { kind: 'ok', text: `Matches: this ${typeName} event would be delivered.` } : { kind: 'error', text: `Does not match: this ${typeName} event would be skipped.` });
  };
  return (
    <fieldset data-testid="filter-editor">
      <legend>Filter (optional)</legend>
      <p class="muted">An EventBridge event pattern over the event envelope, e.g. <code>{'{"data": {"total": [{"numeric": [">", 100]}]}}'}</code>.</p>
      <label for="filter">Pattern (JSON)</label>
      <textarea id="filter" rows={5} value={value} onInput={(e) => (onChange(e.currentTarget.value), setOutcome(undefined))} data-testid="filter" />
      <div class="row">
        <label>Example event
          <select value={typeName} onChange={(e) => (setExampleType(e.currentTarget.value), setOutcome(undefined))} data-testid="filter-example-type">
            {(choices.length ? choices : catalogue).map((t) => <option key={t.type} value={t.type}>{t.type}</option>)}
          </select>
        </label>
        <button type="button" onClick={test} data-testid="test-filter">Test the filter</button>
        <FeedbackText feedback={outcome} testId="filter-outcome" />
      </div>
      <details>
        <summary>The example event</summary>
        <pre class="code">{JSON.stringify(example, null, 2)}</pre>
      </details>
    </fieldset>
  );
}

function Field({ label, children, help }: { label: string; children: preact.ComponentChildren; help?: string }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
      {help && <span class="muted small">{help}</span>}
    </label>
  );
}

export function SubscriptionForm({ id }: { id?: string }) {
  const { client } = useSession();
  const [catalogue, setCatalogue] = useState<Result<CatalogueType[]>>();
  const [form, setForm] = useState<FormState>();
  const [original, setOriginal] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<Feedback>();
  const [secret, setSecret] = useState<{ secret: string; next: string }>();
  // Set at once, not at the next render: a double click submits once.
  const submitting = useRef(false);

  useEffect(() => {
    void (async () => {
      const types = await call(client.GET('/v1/event-types', {}));
      setCatalogue(types.ok ? { ok: true, data: types.data.items as unknown as CatalogueType[] } : types);
      if (!id) return setForm(EMPTY);
      const existing = await call(client.GET('/v1/subscriptions/{id}', { params: { path: { id } } }));
      if (!existing.ok) return setFeedback({ kind: 'error', text: existing.message });
      const state = fromSubscription(existing.data);
      setForm(state);
      setOriginal(JSON.stringify(destinationOf(state)));
    })();
  }, [id]);

  if (!form) return <><p class="muted" role="status">Loading…</p><FeedbackText feedback={feedback} /></>;
  const set = (patch: Partial<FormState>) => setForm({ ...form, ...patch });
  const text = (key: keyof FormState) => ({ value: form[key] as string, onInput: (e: { currentTarget: { value: string } }) => set({ [key]: e.currentTarget.value }) });
  const schedule = form.preset === 'custom' ? undefined : retrySchedule(form.preset === 'default' ? undefined : ({ preset: form.preset } as never));

  const submit = async (e: Event) => {
    e.preventDefault();
    if (submitting.current) return;
    const { body, problem } = bodyOf(form, Boolean(id));
    if (!body) return setFeedback({ kind: 'error', text: problem! });
    // Credentials are write-only: an unchanged destination is left out, so they are kept; a
    // changed one needs them again (the API has no way to say "keep the old password").
    if (id && JSON.stringify(body.destination) === original) delete body.destination;
    else if (id && form.destinationType === 'http' && form.authType !== 'none' && !form.authValue && !form.password && !form.clientSecret) {
      return setFeedback({ kind: 'error', text: 'To change the destination, enter its credentials again (they are write-only and were not shown)' });
    }
    submitting.current = true;
    setBusy(true);
    setFeedback(undefined);
    try {
      if (id) {
        const r = await call(client.PATCH('/v1/subscriptions/{id}', { params: { path: { id } }, body: body as never }));
        if (!r.ok) return setFeedback({ kind: 'error', text: r.message });
        location.hash = `#/subscriptions/${id}`;
      } else {
        const r = await call(client.POST('/v1/subscriptions', { body: body as never }));
        if (!r.ok) return setFeedback({ kind: 'error', text: r.message });
        // Only webhooks are signed: the secret of any other destination would sign nothing.
        if (r.data.secret && form.destinationType === 'webhook') setSecret({ secret: r.data.secret, next: `#/subscriptions/${r.data.id}` });
        else location.hash = `#/subscriptions/${r.data.id}`;
      }
    } finally {
      submitting.current = false;
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="form-title">
      <p><a href={id ? `#/subscriptions/${id}` : '#/'}>← {id ? 'Back to the subscription' : 'All subscriptions'}</a></p>
      <h1 id="form-title">{id ? `Edit ${form.name}` : 'New subscription'}</h1>
      <form class="guided" onSubmit={(e) => void submit(e)} data-testid="subscription-form">
        <Field label="Name"><input name="name" required maxLength={200} {...text('name')} /></Field>
        <Field label="Description (optional)"><input name="description" maxLength={1000} {...text('description')} /></Field>

        <fieldset data-testid="destination-type">
          <legend>Destination</legend>
          {DESTINATIONS.map((d) => (
            <div class="choice" key={d.type}>
              <input type="radio" name="destinationType" id={`dest-${d.type}`} value={d.type} checked={form.destinationType === d.type} onChange={() => set({ destinationType: d.type })} />
              <label for={`dest-${d.type}`}><strong>{d.label}</strong> <span class="muted">{d.help}</span></label>
            </div>
          ))}
        </fieldset>

        {form.destinationType === 'eventbridge' ? (
          <fieldset>
            <legend>EventBridge bus</legend>
            <Field label="Event bus ARN" help="arn:aws:events:<region>:<account id>:event-bus/<name>; the platform must have bound your account"><input name="eventBusArn" required {...text('eventBusArn')} /></Field>
            <Field label="Source (optional)"><input name="source" {...text('source')} /></Field>
            <Field label="Detail type (optional)" help="default: the event type"><input name="detailType" {...text('detailType')} /></Field>
          </fieldset>
        ) : (
          <fieldset>
            <legend>{form.destinationType === 'webhook' ? 'Webhook endpoint' : 'HTTP API'}</legend>
            <Field label="URL"><input name="url" type="url" required placeholder="https://example.com/hooks" {...text('url')} /></Field>
            {form.destinationType === 'http' && (
              <>
                <Field label="Method">
                  <select name="method" value={form.method} onChange={(e) => set({ method: e.currentTarget.value as FormState['method'] })}>
                    <option>POST</option><option>PUT</option><option>PATCH</option>
                  </select>
                </Field>
                <Field label="Authentication" help={id && form.authType !== 'none' ? 'Credentials are write-only: enter them again only to change the destination' : undefined}>
                  <select name="authType" value={form.authType} onChange={(e) => set({ authType: e.currentTarget.value as AuthType })}>
                    <option value="none">none</option><option value="api_key">API key header</option><option value="basic">Basic</option><option value="oauth2">OAuth 2 client credentials</option>
                  </select>
                </Field>
                {form.authType === 'api_key' && (<><Field label="Header name"><input name="authHeader" required {...text('authHeader')} /></Field><Field label="Key"><input name="authValue" type="password" autocomplete="off" {...text('authValue')} /></Field></>)}
                {form.authType === 'basic' && (<><Field label="Username"><input name="username" required {...text('username')} /></Field><Field label="Password"><input name="password" type="password" autocomplete="off" {...text('password')} /></Field></>)}
                {form.authType === 'oauth2' && (<><Field label="Token URL"><input name="tokenUrl" type="url" required {...text('tokenUrl')} /></Field><Field label="Client id"><input name="clientId" required {...text('clientId')} /></Field><Field label="Client secret"><input name="clientSecret" type="password" autocomplete="off" {...text('clientSecret')} /></Field><Field label="Scope (optional)"><input name="scope" {...text('scope')} /></Field></>)}
              </>
            )}
            <Field label="Timeout per attempt, seconds (optional)" help="1–90; default 10"><input name="timeoutSeconds" type="number" min={1} max={90} {...text('timeoutSeconds')} /></Field>
            <fieldset class="headers" data-testid="headers-editor">
              <legend>Extra headers (optional)</legend>
              {form.headers.map((h, i) => (
                <div class="row" key={i}>
                  <Field label={`Header ${i + 1} name`}><input value={h.name} onInput={(e) => set({ headers: form.headers.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)) })} /></Field>
                  <Field label={`Header ${i + 1} value`}><input type="password" autocomplete="off" value={h.value} onInput={(e) => set({ headers: form.headers.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)) })} /></Field>
                  <button type="button" aria-label={`Remove header ${i + 1}`} onClick={() => set({ headers: form.headers.filter((_, j) => j !== i) })}>Remove</button>
                </div>
              ))}
              <button type="button" onClick={() => set({ headers: [...form.headers, { name: '', value: '' }] })}>Add a header</button>
            </fieldset>
          </fieldset>
        )}

        <Loaded result={catalogue}>
          {(types) => (
            <>
              <EventTypePicker catalogue={types} selected={form.eventTypes} onChange={(eventTypes) => set({ eventTypes })} />
              <Field label="Other type patterns (optional)" help="comma-separated, e.g. order.* or shipment.all"><input name="otherPatterns" {...text('otherPatterns')} /></Field>
              <FilterEditor value={form.filter} onChange={(filter) => set({ filter })} catalogue={types} types={form.eventTypes} />
            </>
          )}
        </Loaded>

        <fieldset data-testid="retry-presets">
          <legend>When a delivery fails</legend>
          {[...PRESETS, ...(form.customRetry ? [{ name: 'custom', description: 'Custom policy set through the API (kept as it is)', timeoutSeconds: undefined }] : [])].map((p) => (
            <div class="choice" key={p.name}>
              <input type="radio" name="preset" id={`preset-${p.name}`} value={p.name} checked={form.preset === p.name} onChange={() => set({ preset: p.name })} />
              <label for={`preset-${p.name}`}><strong>{p.name}</strong> <span class="muted">{p.description}</span></label>
            </div>
          ))}
          {schedule && (
            <p data-testid="retry-schedule">
              First attempt at once; then retries after {schedule.gaps.join(', ') || 'no retries'}{schedule.more ? ', …' : ''}; {schedule.attempts}. Then the delivery becomes a dead letter you can redrive.
            </p>
          )}
        </fieldset>

        <fieldset>
          <legend>Delivery</legend>
          <Field label="Ordering">
            <select name="ordering" value={form.ordering} onChange={(e) => set({ ordering: e.currentTarget.value as FormState['ordering'] })}>
              <option value="none">none: fastest, in parallel</option>
              <option value="subject">per subject: one at a time, in publish order</option>
            </select>
          </Field>
          <Field label="Payload">
            <select name="payload" value={form.payload} onChange={(e) => set({ payload: e.currentTarget.value as FormState['payload'] })}>
              <option value="full">full event</option>
              <option value="thin">thin: ids and a link to fetch the data</option>
            </select>
          </Field>
          <div class="choice">
            <input type="checkbox" id="batching" checked={form.batching} onChange={(e) => set({ batching: e.currentTarget.checked })} />
            <label for="batching">Batch events of one type into one notification</label>
          </div>
          {form.batching && (
            <div class="row">
              <Field label="Events per notification, at most"><input name="maxItems" type="number" min={1} max={1000} {...text('maxItems')} /></Field>
              <Field label="Seconds between notifications"><input name="intervalSeconds" type="number" min={0} max={3600} {...text('intervalSeconds')} /></Field>
            </div>
          )}
        </fieldset>

        <div class="actions">
          <button type="submit" class="primary" disabled={busy} aria-busy={busy} data-testid="save">{busy ? 'Saving…' : id ? 'Save changes' : 'Create subscription'}</button>
          <FeedbackText feedback={feedback} testId="form-feedback" />
        </div>
      </form>
      {secret && <SecretDialog secret={secret.secret} onClose={() => (location.hash = secret.next)} />}
    </section>
  );
}
