/// <reference lib="dom" />
/**
 * The tenant console: a tenant opens it with its API key and sees its subscriptions, their
 * delivery log with each attempt, dead letters, and a success/latency chart; it can create,
 * pause, resume, rotate, test, resend and redrive. Plain DOM and the typed client generated from
 * the OpenAPI document (openapi-fetch + console/api-types.ts); bundled by console/build.ts.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './api-types.ts';

type Subscription = components['schemas']['Subscription'];
type Delivery = components['schemas']['Delivery'];
type DeliveryStatus = Delivery['status'];
type Stats = components['schemas']['Stats'];

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

function h(tag: string, attrs: Record<string, string | ((e: Event) => void)> = {}, ...children: (Node | string | undefined)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else el.setAttribute(k, v);
  }
  for (const child of children) if (child !== undefined) el.append(child);
  return el;
}

async function apiBase(): Promise<string> {
  // Deployed: config.json next to the console names the API; locally the API is this origin.
  try {
    const res = await fetch('config.json');
    if (res.ok) return ((await res.json()) as { apiUrl: string }).apiUrl.replace(/\/$/, '');
  } catch {
    // same origin
  }
  return location.origin;
}

let client: ReturnType<typeof createClient<paths>>;
let selected: string | undefined;

function notice(text: string, kind: 'ok' | 'error' = 'ok') {
  const box = $('#notice');
  box.textContent = text;
  box.className = kind;
}

function problemText(error: unknown): string {
  const p = error as { detail?: string; errors?: { path: string; message: string }[] };
  return [p.detail, ...(p.errors ?? []).map((e) => `${e.path}: ${e.message}`)].filter(Boolean).join('; ') || 'request failed';
}

async function loadSubscriptions() {
  const { data, error } = await client.GET('/v1/subscriptions', { params: { query: { limit: 100 } } });
  if (error) return notice(problemText(error), 'error');
  const list = $('#subscriptions');
  list.replaceChildren(
    ...data.items.map((s: Subscription) =>
      h(
        'tr',
        { 'data-testid': `subscription-${s.id}`, class: s.id === selected ? 'selected' : '' },
        h('td', {}, h('a', { href: '#', onclick: (e) => (e.preventDefault(), select(s.id)) }, s.name)),
        h('td', {}, String((s.destination as { url?: string; eventBusArn?: string }).url ?? (s.destination as { eventBusArn?: string }).eventBusArn ?? '')),
        h('td', {}, s.eventTypes.join(', ')),
        h('td', { 'data-testid': 'subscription-status' }, s.status),
        h(
          'td',
          {},
          s.status === 'active'
            ? h('button', { onclick: () => act(client.POST('/v1/subscriptions/{id}/pause', { params: { path: { id: s.id } }, body: {} }), 'paused') }, 'Pause')
            : h('button', { onclick: () => act(client.POST('/v1/subscriptions/{id}/resume', { params: { path: { id: s.id } }, body: {} }), 'resumed; held deliveries released') }, 'Resume'),
          h('button', { onclick: () => rotate(s.id) }, 'Rotate secret'),
          h('button', { 'data-testid': 'send-test', onclick: () => act(client.POST('/v1/subscriptions/{id}/test', { params: { path: { id: s.id } }, body: {} }), 'test event sent') }, 'Send test'),
        ),
      ),
    ),
  );
}

async function act(call: Promise<{ error?: unknown }>, done: string) {
  const { error } = await call;
  if (error) notice(problemText(error), 'error');
  else notice(done);
  await refresh();
}

async function rotate(id: string) {
  const { data, error } = await client.POST('/v1/subscriptions/{id}/rotate-secret', { params: { path: { id } }, body: {} });
  if (error) return notice(problemText(error), 'error');
  notice(`New signing secret (shown once; the old one signs for 24 h more): ${data.secret}`);
}

async function select(id: string) {
  selected = id;
  await refresh();
}

async function loadDeliveries() {
  const panel = $('#deliveries');
  if (!selected) return panel.replaceChildren();
  // The select offers exactly the API's statuses (index.html), or '' for all.
  const status = ($('#status-filter') as unknown as HTMLSelectElement).value as DeliveryStatus | '';
  const { data, error } = await client.GET('/v1/subscriptions/{id}/deliveries', {
    params: { path: { id: selected }, query: { limit: 50, ...(status ? { status } : {}) } },
  });
  if (error) return notice(problemText(error), 'error');
  panel.replaceChildren(
    ...data.items.map((d: Delivery) => {
      const attempts = h(
        'table',
        { class: 'attempts' },
        ...d.attempts.map((a) =>
          h(
            'tr',
            {},
            h('td', {}, `#${a.number}`),
            h('td', {}, a.at),
            h('td', {}, a.statusCode !== undefined ? String(a.statusCode) : '—'),
            h('td', {}, `${Math.round(a.durationMs)} ms`),
            h('td', {}, a.error ? `${a.error}${a.errorMessage ? `: ${a.errorMessage}` : ''}` : ''),
            h('td', {}, h('code', {}, (a.responseExcerpt ?? '').slice(0, 200))),
          ),
        ),
      );
      return h(
        'tr',
        { 'data-testid': 'delivery-row', 'data-delivery': d.id },
        h('td', {}, h('code', {}, d.id)),
        h('td', {}, d.eventType),
        h('td', {}, d.subject ?? ''),
        h('td', { 'data-testid': 'delivery-status', class: `status-${d.status}` }, d.status),
        h('td', {}, d.reason ?? ''),
        h('td', {}, attempts),
        h(
          'td',
          {},
          h(
            'button',
            {
              'data-testid': 'resend',
              onclick: async () => {
                const { data: sent, error: failed } = await client.POST('/v1/deliveries/{id}/resend', { params: { path: { id: d.id } }, body: {} });
                if (failed) notice(problemText(failed), 'error');
                else notice(`resent as ${sent.deliveryId}`);
                setTimeout(() => void refresh(), 700);
              },
            },
            'Resend',
          ),
        ),
      );
    }),
  );
}

/** Hourly successes and failures as bars, p50 latency as a line: 24 points, plain SVG. */
function chart(stats: Stats): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const w = 480;
  const hgt = 120;
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('data-testid', 'stats-chart');
  const max = Math.max(1, ...stats.hourly.map((p) => (p.attempts ?? 0)));
  const maxLatency = Math.max(1, ...stats.hourly.map((p) => p.p50 ?? 0));
  const bw = w / stats.hourly.length;
  const points: string[] = [];
  stats.hourly.forEach((p, i) => {
    const ok = ((p.succeeded ?? 0) / max) * (hgt - 10);
    const bad = ((p.failed ?? 0) / max) * (hgt - 10);
    for (const [height, y, color] of [[ok, hgt - ok, '#2f9e44'], [bad, hgt - ok - bad, '#e03131']] as [number, number, string][]) {
      const rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('x', String(i * bw + 1));
      rect.setAttribute('y', String(y));
      rect.setAttribute('width', String(bw - 2));
      rect.setAttribute('height', String(height));
      rect.setAttribute('fill', color);
      svg.append(rect);
    }
    if (p.p50 !== null && p.p50 !== undefined) points.push(`${i * bw + bw / 2},${hgt - (p.p50 / maxLatency) * (hgt - 10)}`);
  });
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1c7ed6');
  svg.append(line);
  return svg;
}

async function loadStats() {
  const panel = $('#stats');
  if (!selected) return panel.replaceChildren();
  const { data, error } = await client.GET('/v1/subscriptions/{id}/stats', { params: { path: { id: selected } } });
  if (error) return notice(problemText(error), 'error');
  const windows = data.windows as Record<string, components['schemas']['Stats']['windows']['1h']>;
  panel.replaceChildren(
    h(
      'table',
      {},
      h('tr', {}, ...['window', 'events', 'attempts', 'success rate', 'retries', 'dead-lettered', 'held', 'p50', 'p95'].map((t) => h('th', {}, t))),
      ...Object.entries(windows).map(([name, w]) =>
        h(
          'tr',
          { 'data-testid': `stats-${name}` },
          h('td', {}, name),
          ...[w?.events, w?.attempts, w?.successRate === null || w?.successRate === undefined ? '—' : `${Math.round(w.successRate * 100)} %`, w?.retries, w?.deadLettered, w?.held, w?.responseTimeMs?.p50 ?? '—', w?.responseTimeMs?.p95 ?? '—'].map((v) =>
            h('td', {}, String(v ?? 0)),
          ),
        ),
      ),
    ),
    ...(data.degraded ? [h('p', { 'data-testid': 'stats-degraded', class: 'warning' }, `Degraded: ${data.degradedReason ?? 'endpoint failing'}`)] : []),
    h('p', {}, `Last attempt ${data.lastAttemptAt ?? 'never'}; last success ${data.lastSuccessAt ?? 'never'}; last error ${data.lastError ? JSON.stringify(data.lastError) : 'none'}`),
    chart(data),
  );
}

async function loadDeadLetters() {
  const { data, error } = await client.GET('/v1/dead-letters', { params: { query: { limit: 50 } } });
  if (error) return notice(problemText(error), 'error');
  $('#dead-letters').replaceChildren(
    ...data.items.map((d: Delivery) => h('tr', {}, h('td', {}, h('code', {}, d.id)), h('td', {}, d.eventType), h('td', {}, d.reason ?? ''), h('td', {}, String(d.attempts.length)))),
  );
}

async function refresh() {
  await Promise.all([loadSubscriptions(), loadDeliveries(), loadStats(), loadDeadLetters()]);
}

async function start(key: string) {
  sessionStorage.setItem('herald-key', key);
  client = createClient<paths>({ baseUrl: await apiBase(), headers: { authorization: `Bearer ${key}` } });
  const { error } = await client.GET('/v1/subscriptions', { params: { query: { limit: 1 } } });
  if (error) return notice(problemText(error), 'error');
  $('#login').hidden = true;
  $('#main').hidden = false;
  await refresh();
}

$('#login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void start(($('#api-key') as unknown as HTMLInputElement).value.trim());
});

$('#create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target as HTMLFormElement;
  const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  const { data, error } = await client.POST('/v1/subscriptions', {
    body: { name: field('name'), eventTypes: field('eventTypes').split(',').map((t) => t.trim()).filter(Boolean), destination: { type: 'webhook', url: field('url') } },
  });
  if (error) return notice(problemText(error), 'error');
  notice(`Created ${data.id}. Signing secret (shown once): ${data.secret}`);
  selected = data.id;
  form.reset();
  await refresh();
});

$('#status-filter').addEventListener('change', () => void loadDeliveries());
$('#refresh').addEventListener('click', () => void refresh());
$('#redrive').addEventListener('click', () => void act(client.POST('/v1/dead-letters/redrive', { body: {} }), 'dead letters redriven'));

const saved = sessionStorage.getItem('herald-key');
if (saved) void start(saved);
