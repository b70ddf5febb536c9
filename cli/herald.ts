/**
 * `herald`: the command line for operators and tenants, over the public API (docs/api.md) with
 * the typed client (openapi-fetch + console/api-types.ts, generated from the OpenAPI document).
 *
 *   herald <command> [subcommand] [arguments] [options]
 *
 * Exit status: 0 done, 1 the API refused or could not be reached (problem+json detail and field
 * errors on stderr), 2 usage error. `--json` prints the API's answers as JSON for scripts.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import createClient from 'openapi-fetch';
import type { components, paths } from '../console/api-types.ts';
import { describeWebhook, receiverKeyProblem, startReceiver } from './receive.ts';
import { runSmoke } from './smoke.ts';

type Delivery = components['schemas']['Delivery'];
type Subscription = components['schemas']['Subscription'];
type Problem = components['schemas']['Problem'];
type Client = ReturnType<typeof createClient<paths>>;

export const DEFAULT_URL = 'http://127.0.0.1:3000';
const BATCH_MAX = 100;

const HELP = `herald: command line for the Herald API

Usage: herald <command> [arguments] [options]

Commands
  tenants create --name <name>                 create a tenant (admin key); prints its API key once
  keys create [--tenant <id>]                  new API key for the caller's tenant (admin: --tenant)
  keys list [--tenant <id>]
  keys revoke <prefix> [--tenant <id>]
  subscriptions create --name <n> --event-types <a,b> --url <url> [--signature hmac|ed25519] [--secret S]
                                               prints the whsec_ secret once (hmac, the default; none
                                               for an imported --secret) or the whpk_ public key (ed25519)
  subscriptions create --file sub.json         a subscription body as docs/api.md describes (flags override)
  subscriptions list [--limit N] [--next-token T]
  subscriptions show <id>
  subscriptions delete <id>
  subscriptions rotate-secret <id> [--secret S]
                                               new secret (or key pair, ed25519); the old one signs 24 h more
  subscriptions public-keys <id>               the whpk_ keys an ed25519 subscription signs with now
  publish --tenant <id> --type <t> --subject <s> --data '<json>'|@file.json [--id <id>] [--version N]
  publish --file events.json                   one event, an array, {"events": [...]} or NDJSON;
                                               several go through POST /v1/events/batch (100 a request)
  deliveries list <subscriptionId> [--status S] [--limit N] [--next-token T]
  deliveries show <deliveryId>
  deliveries resend <deliveryId>
  dead-letters list [--subscription <id>] [--limit N] [--next-token T]
  dead-letters redrive [--subscription <id>]
  stats <subscriptionId>
  tail <subscriptionId> [--lines N] [--interval-ms MS]
                                               print the latest N deliveries (default 10), then
                                               every new or changed one, polling every second
  smoke --receiver <url> [--type <t>] [--timeout-seconds N]
                                               (admin key) the whole path against this Herald:
                                               tenant, signed delivery, retry, dead letter,
                                               redrive, through the self-test receiver
                                               (herald:selfTestReceiver; npm start prints its
                                               URL); cleans up after itself. Exit 1 if a step fails
  receive --port <n> [--secret whsec_…] [--public-key whpk_…] [--host <addr>]
                                               a webhook receiver for trying Herald: prints each
                                               request (headers, raw body) and whether its signature
                                               verifies (v1 with the secret, v1a ed25519 with the
                                               public key); answers 204, or 400 when it does not
                                               verify. No API key needed. Ctrl-C stops it

Options
  --json                 print the API's answers as JSON (tail, receive: one JSON object per line)
  --field <a,b>          print only these fields of the answer, tab-separated on one line, e.g.
                           read -r SUB_ID SECRET <<< "$(herald subscriptions create … --field id,secret)"
  --profile <name>       use a profile from the config file
  --herald-url <url>     the API (else HERALD_URL, the profile, ${DEFAULT_URL})
  --key <key>            the API key (else HERALD_KEY or the profile)
  --tenant <id>          the tenant an admin key acts for (publish: the events' tenantId)
  -h, --help             this help

Configuration
  HERALD_URL, HERALD_KEY, HERALD_PROFILE, and a config file (HERALD_CONFIG, else
  $XDG_CONFIG_HOME/herald/config.json, else ~/.config/herald/config.json):
    {"profiles": {"prod": {"url": "https://api.example.com", "key": "hk_…"}}}
  --herald-url/--key win over --profile, which wins over HERALD_URL/HERALD_KEY, which win over a
  profile named "default".

Exit status: 0 done, 1 the API refused (problem+json detail and field errors on stderr) or
could not be reached, 2 usage error.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  profile: { type: 'string' },
  'herald-url': { type: 'string' },
  key: { type: 'string' },
  tenant: { type: 'string' },
  name: { type: 'string' },
  'event-types': { type: 'string' },
  url: { type: 'string' },
  file: { type: 'string' },
  type: { type: 'string' },
  subject: { type: 'string' },
  data: { type: 'string' },
  id: { type: 'string' },
  version: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  'next-token': { type: 'string' },
  subscription: { type: 'string' },
  lines: { type: 'string' },
  'interval-ms': { type: 'string' },
  receiver: { type: 'string' },
  'timeout-seconds': { type: 'string' },
  field: { type: 'string' },
  signature: { type: 'string' },
  secret: { type: 'string' },
  'public-key': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const GLOBAL = ['help', 'json', 'field', 'profile', 'herald-url', 'key'] as const;
const PAGE = ['limit', 'next-token'] as const;

/** Each command: its positional arguments and the options it takes beside the global ones. */
const COMMANDS: Record<string, { args: string[]; options: readonly (keyof typeof OPTIONS)[] }> = {
  'tenants create': { args: [], options: ['name'] },
  'keys create': { args: [], options: ['tenant'] },
  'keys list': { args: [], options: ['tenant'] },
  'keys revoke': { args: ['prefix'], options: ['tenant'] },
  'subscriptions create': { args: [], options: ['tenant', 'name', 'event-types', 'url', 'file', 'signature', 'secret'] },
  'subscriptions list': { args: [], options: ['tenant', ...PAGE] },
  'subscriptions show': { args: ['id'], options: ['tenant'] },
  'subscriptions delete': { args: ['id'], options: ['tenant'] },
  'subscriptions rotate-secret': { args: ['id'], options: ['tenant', 'secret'] },
  'subscriptions public-keys': { args: ['id'], options: ['tenant'] },
  publish: { args: [], options: ['tenant', 'type', 'subject', 'data', 'id', 'version', 'file'] },
  'deliveries list': { args: ['subscriptionId'], options: ['tenant', 'status', ...PAGE] },
  'deliveries show': { args: ['id'], options: ['tenant'] },
  'deliveries resend': { args: ['id'], options: ['tenant'] },
  'dead-letters list': { args: [], options: ['tenant', 'subscription', ...PAGE] },
  'dead-letters redrive': { args: [], options: ['tenant', 'subscription'] },
  stats: { args: ['subscriptionId'], options: ['tenant'] },
  tail: { args: ['subscriptionId'], options: ['tenant', 'lines', 'interval-ms'] },
  smoke: { args: [], options: ['receiver', 'type', 'timeout-seconds'] },
  receive: { args: [], options: ['port', 'host', 'secret', 'public-key'] },
};

/** Commands that do not call the API, so need no key. */
const OFFLINE = new Set(['receive']);

/** A mistake in the command line: exit 2. */
export class UsageError extends Error {}

/** `--field` named a field the answer does not have: exit 1 (the API call itself was done). */
export class FieldError extends Error {}

/** The API refused, or could not be reached: exit 1. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly problem?: Problem,
  ) {
    super(message);
  }
}

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

// ---------------------------------------------------------------------------------------------
// Configuration

interface Profile {
  url?: string;
  key?: string;
}

function configPath(env: NodeJS.ProcessEnv): string {
  if (env.HERALD_CONFIG) return env.HERALD_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'herald', 'config.json');
}

function readProfiles(path: string, required: boolean): Record<string, Profile> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    if (required) throw new UsageError(`no config file at ${path} (needed for --profile)`);
    return {};
  }
  try {
    const parsed = JSON.parse(text) as { profiles?: Record<string, Profile> };
    return parsed.profiles ?? {};
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function resolveConfig(values: Values, env: NodeJS.ProcessEnv): { url: string; key?: string } {
  const profileName = values.profile ?? env.HERALD_PROFILE;
  let profile: Profile = {};
  if (profileName) {
    const path = configPath(env);
    const profiles = readProfiles(path, true);
    const found = profiles[profileName];
    if (!found) throw new UsageError(`no profile "${profileName}" in ${path} (profiles: ${Object.keys(profiles).join(', ') || 'none'})`);
    profile = found;
  }
  const fallback = profileName ? {} : (readProfiles(configPath(env), false).default ?? {});
  const url = values['herald-url'] ?? profile.url ?? env.HERALD_URL ?? fallback.url ?? DEFAULT_URL;
  const key = values.key ?? profile.key ?? env.HERALD_KEY ?? fallback.key;
  return { url: url.replace(/\/+$/, ''), key };
}

// ---------------------------------------------------------------------------------------------
// Output

function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  return String(value).replace(/\s+/g, ' ');
}

/** A compact table: a header row and aligned columns. */
export function table(headers: string[], rows: unknown[][]): string {
  const text = rows.map((row) => row.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...(text.length ? text.map(line) : ['(none)'])].join('\n');
}

function keyValues(entries: [string, unknown][]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : cell(v)}`)
    .join('\n');
}

function destinationOf(sub: Subscription): string {
  const d = (sub as { destination?: Record<string, unknown> }).destination ?? {};
  return String(d.url ?? d.eventBusArn ?? d.type ?? '-');
}

function lastAttempt(d: Delivery): string {
  const a = d.attempts.at(-1);
  if (!a) return '-';
  return a.statusCode !== undefined ? String(a.statusCode) : (a.error ?? '-');
}

/** Lists carry the latest attempt only: the count is `attemptCount`. */
function attemptsOf(d: Delivery): number {
  return d.attemptCount ?? d.attempts.length;
}

function deliveryRows(items: Delivery[]): string {
  return table(
    ['ID', 'STATUS', 'EVENT TYPE', 'SUBJECT', 'ATTEMPTS', 'LAST', 'CREATED'],
    items.map((d) => [d.id, d.status, d.eventType, d.subject, attemptsOf(d), lastAttempt(d), d.createdAt]),
  );
}

/** One line per delivery state in `tail`. */
export function deliveryLine(d: Delivery): string {
  const a = d.attempts.at(-1);
  const at = a?.at ?? d.updatedAt ?? d.createdAt;
  const outcome = a ? `attempt ${a.number} ${a.statusCode ?? a.error ?? '-'} ${a.durationMs}ms` : 'no attempt yet';
  return [at, d.id, d.status.padEnd(9), d.eventType, d.subject ?? '-', outcome, d.reason ? `(${d.reason})` : ''].join(' ').trimEnd();
}

// ---------------------------------------------------------------------------------------------
// API calls

/** Unwraps an openapi-fetch answer: the data, or an ApiError with the problem+json. */
async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>, url: string): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiError(`cannot reach Herald at ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (result.response.ok) return result.data as T;
  const problem = typeof result.error === 'object' && result.error !== null ? (result.error as Problem) : undefined;
  const title = problem?.title ?? result.response.statusText;
  let detail = problem?.detail ?? (typeof result.error === 'string' ? result.error : '');
  // The detail of a validation problem repeats its field errors, which are printed one a line.
  const first = problem?.errors?.[0];
  if (first?.message && detail.includes(first.message)) detail = '';
  throw new ApiError(`${result.response.status} ${title}${detail ? `: ${detail}` : ''}`, problem);
}

function readJsonFile(path: string, io: Io): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // NDJSON: one event a line.
    const lines = text.split('\n').filter((l) => l.trim());
    if (lines.length > 1) {
      try {
        return lines.map((l) => JSON.parse(l));
      } catch {
        // fall through to the original error
      }
    }
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function jsonFlag(name: string, value: string, io: Io): unknown {
  if (value.startsWith('@')) return readJsonFile(value.slice(1), io);
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new UsageError(`--${name} is not valid JSON (${(error as Error).message}); use --${name} @file.json for a file`);
  }
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Commands

interface Ctx {
  client: Client;
  url: string;
  key: string;
  values: Values;
  args: string[];
  io: Io;
  print: (data: unknown, human: () => string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function publish(ctx: Ctx): Promise<number> {
  const { values, client, url, io } = ctx;
  let events: Record<string, unknown>[];
  let single = true;
  if (values.file !== undefined) {
    const content = readJsonFile(values.file, io);
    if (Array.isArray(content)) {
      events = content as Record<string, unknown>[];
      single = false;
    } else if (content && typeof content === 'object' && Array.isArray((content as { events?: unknown }).events)) {
      events = (content as { events: Record<string, unknown>[] }).events;
      single = false;
    } else if (content && typeof content === 'object') {
      events = [content as Record<string, unknown>];
    } else {
      throw new UsageError(`${values.file} holds neither an event, an array of events nor {"events": [...]}`);
    }
    if (events.length === 0) throw new UsageError(`${values.file} holds no events`);
  } else {
    const missing = (['tenant', 'type', 'subject', 'data'] as const).filter((k) => values[k] === undefined);
    if (missing.length) throw new UsageError(`publish needs ${missing.map((m) => `--${m}`).join(', ')} (or --file)`);
    events = [{}];
  }
  // Flags fill in (and override) the file's fields.
  const overrides: Record<string, unknown> = {};
  if (values.type !== undefined) overrides.type = values.type;
  if (values.subject !== undefined) overrides.subject = values.subject;
  if (values.data !== undefined) overrides.data = jsonFlag('data', values.data, io);
  if (values.id !== undefined) overrides.id = values.id;
  if (values.version !== undefined) overrides.version = positiveInt('version', values.version);
  events = events.map((e) => ({ ...(values.tenant ? { tenantId: values.tenant } : {}), ...e, ...overrides }));
  if (values.tenant !== undefined) for (const e of events) e.tenantId = values.tenant;

  if (single) {
    const body = events[0] as components['schemas']['PublishEvent'];
    const data = await call(client.POST('/v1/events', { body }), url);
    ctx.print(data, () => `published ${(data as { id: string }).id}`);
    return 0;
  }
  const items: { index: number; id?: string; status: number; problem?: Problem }[] = [];
  for (let start = 0; start < events.length; start += BATCH_MAX) {
    const chunk = events.slice(start, start + BATCH_MAX) as components['schemas']['PublishEvent'][];
    const data = await call(client.POST('/v1/events/batch', { body: { events: chunk } }), url);
    for (const item of (data as components['schemas']['PublishEventBatchResult']).items) items.push({ ...item, index: item.index + start });
  }
  const failed = items.filter((i) => i.status >= 400);
  ctx.print({ items }, () =>
    [
      table(
        ['#', 'ID', 'STATUS', 'PROBLEM'],
        items.map((i) => [i.index, i.id, i.status, i.problem ? [i.problem.detail, ...(i.problem.errors ?? []).map((e) => `${e.path}: ${e.message}`)].join('; ') : '']),
      ),
      `${items.length - failed.length} of ${items.length} published`,
    ].join('\n'),
  );
  return failed.length ? 1 : 0;
}

async function subscriptionsCreate(ctx: Ctx): Promise<number> {
  const { values, io } = ctx;
  let body: Record<string, unknown> = {};
  if (values.file !== undefined) {
    const content = readJsonFile(values.file, io);
    if (!content || typeof content !== 'object' || Array.isArray(content)) throw new UsageError(`${values.file} must hold one subscription object`);
    body = content as Record<string, unknown>;
  } else {
    const missing = (['name', 'event-types', 'url'] as const).filter((k) => values[k] === undefined);
    if (missing.length) throw new UsageError(`subscriptions create needs ${missing.map((m) => `--${m}`).join(', ')} (or --file)`);
  }
  if (values.name !== undefined) body.name = values.name;
  if (values['event-types'] !== undefined) body.eventTypes = values['event-types'].split(',').map((t) => t.trim()).filter(Boolean);
  if (values.url !== undefined) body.destination = { ...((body.destination as object) ?? {}), type: 'webhook', url: values.url };
  if (values.signature !== undefined) {
    if (values.signature !== 'hmac' && values.signature !== 'ed25519') throw new UsageError(`--signature must be hmac or ed25519, got "${values.signature}"`);
    body.signature = values.signature;
  }
  if (values.secret !== undefined) body.secret = values.secret;
  if (values.tenant !== undefined) body.tenantId = values.tenant;
  const data = await call(ctx.client.POST('/v1/subscriptions', { body: body as components['schemas']['CreateSubscription'] }), ctx.url);
  const sub = data as Subscription & { secret?: string };
  ctx.print(sub, () => keyValues([['id', sub.id], ['name', sub.name], ['status', sub.status], ['eventTypes', sub.eventTypes.join(',')], ['destination', destinationOf(sub)], signingLine(sub)]));
  return 0;
}

/**
 * What a receiver verifies with, as create and rotate answer it: an ed25519 subscription's public
 * key (never secret), a generated HMAC secret (shown once), or nothing for an imported secret.
 */
function signingLine(answer: { secret?: string; publicKey?: string }): [string, string] {
  if (answer.publicKey !== undefined) return ['publicKey', `${answer.publicKey}  (verifies v1a signatures; also at subscriptions public-keys)`];
  if (answer.secret !== undefined) return ['secret', `${answer.secret}  (shown once: keep it to verify signatures)`];
  return ['secret', '(imported: not answered back)'];
}

async function receive(ctx: Ctx): Promise<number> {
  const { values, io } = ctx;
  if (values.port === undefined) throw new UsageError('receive needs --port <n> (0: any free port)');
  const port = positiveInt('port', values.port)!;
  if (port > 65535) throw new UsageError(`--port must be 0 to 65535, got "${values.port}"`);
  const keys = { secret: values.secret, publicKey: values['public-key'] };
  const problem = receiverKeyProblem(keys);
  if (problem) throw new UsageError(problem);
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  try {
    receiver = await startReceiver({
      ...keys,
      port,
      host: values.host ?? '127.0.0.1',
      onWebhook: (w) => io.out(values.json ? JSON.stringify(w) : describeWebhook(w)),
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new ApiError(code === 'EADDRINUSE' ? `port ${port} is already in use` : `cannot listen on port ${port}: ${(error as Error).message}`);
  }
  const checking = [keys.secret && 'v1 (--secret)', keys.publicKey && 'v1a ed25519 (--public-key)'].filter(Boolean).join(' and ');
  io.err(`herald receive ready at ${receiver.url} (${checking ? `verifying ${checking}` : 'not verifying: no --secret or --public-key'}; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => receiver.server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

function pageQuery(values: Values) {
  return {
    ...(values.tenant !== undefined ? { tenantId: values.tenant } : {}),
    ...(values.limit !== undefined ? { limit: positiveInt('limit', values.limit) } : {}),
    ...(values['next-token'] !== undefined ? { nextToken: values['next-token'] } : {}),
  };
}

function moreHint(ctx: Ctx, nextToken: string | undefined): string {
  return nextToken ? `\nmore: --next-token ${nextToken}` : '';
}

async function tail(ctx: Ctx): Promise<number> {
  const { client, url, values, io } = ctx;
  const id = ctx.args[0]!;
  const lines = positiveInt('lines', values.lines) ?? 10;
  const interval = positiveInt('interval-ms', values['interval-ms']) ?? 1000;
  const seen = new Map<string, string>();
  const stateOf = (d: Delivery) => `${d.status}/${attemptsOf(d)}/${d.attempts.at(-1)?.at ?? ''}`;
  const emit = (d: Delivery) => io.out(values.json ? JSON.stringify(d) : deliveryLine(d));
  const query = { ...(values.tenant !== undefined ? { tenantId: values.tenant } : {}), limit: 100 };
  const poll = async () => {
    const page = await call(client.GET('/v1/subscriptions/{id}/deliveries', { params: { path: { id }, query } }), url);
    return (page as { items: Delivery[] }).items;
  };
  const first = await poll();
  for (const d of first) seen.set(d.id, stateOf(d));
  // The latest `lines`, oldest first.
  for (const d of first.slice(0, lines).reverse()) emit(d);
  io.err(`following ${id} every ${interval} ms (Ctrl-C to stop)`);
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  while (!stopped) {
    await sleep(interval);
    if (stopped) break;
    let items: Delivery[];
    try {
      items = await poll();
    } catch (error) {
      if (error instanceof ApiError && error.problem) throw error; // refused: no point going on
      io.err(`warning: ${(error as Error).message}; retrying`);
      continue;
    }
    for (const d of [...items].reverse()) {
      const state = stateOf(d);
      if (seen.get(d.id) === state) continue;
      seen.set(d.id, state);
      emit(d);
    }
  }
  return 0;
}

async function smoke(ctx: Ctx): Promise<number> {
  const { values, url, io } = ctx;
  const receiver = values.receiver ?? io.env.HERALD_SELF_TEST_URL;
  if (!receiver) throw new UsageError('smoke needs --receiver <url> (the stack output SelfTestReceiverUrl, or the URL npm start prints), or HERALD_SELF_TEST_URL');
  if (!/^https?:\/\//.test(receiver)) throw new UsageError(`--receiver must be an http(s) URL, got "${receiver}"`);
  const timeoutSeconds = positiveInt('timeout-seconds', values['timeout-seconds']) ?? 120;
  const result = await runSmoke({
    url,
    adminKey: ctx.key,
    receiver,
    eventType: values.type,
    timeoutMs: timeoutSeconds * 1000,
    report: (s) => {
      if (!values.json) (s.ok ? io.out : io.err)(`${s.ok ? '✓' : '✗'} ${s.step.padEnd(13)} ${s.detail} (${s.ms} ms)`);
    },
  });
  if (values.json) io.out(JSON.stringify(result, null, 2));
  else (result.ok ? io.out : io.err)(result.ok ? 'smoke test passed' : 'smoke test FAILED');
  return result.ok ? 0 : 1;
}

async function dispatch(command: string, ctx: Ctx): Promise<number> {
  const { client, url, values, args } = ctx;
  const tenantQuery = values.tenant !== undefined ? { tenantId: values.tenant } : {};
  const tenantBody = values.tenant !== undefined ? { tenantId: values.tenant } : {};
  switch (command) {
    case 'tenants create': {
      if (values.name === undefined) throw new UsageError('tenants create needs --name');
      const data = (await call(client.POST('/v1/tenants', { body: { name: values.name } }), url)) as Record<string, unknown>;
      ctx.print(data, () => keyValues([['id', data.id], ['name', data.name], ['apiKey', `${cell(data.apiKey)}  (shown once)`]]));
      return 0;
    }
    case 'keys create': {
      const data = (await call(client.POST('/v1/keys', { body: tenantBody }), url)) as Record<string, unknown>;
      ctx.print(data, () => keyValues([['prefix', data.prefix], ['tenantId', data.tenantId], ['apiKey', `${cell(data.apiKey)}  (shown once)`]]));
      return 0;
    }
    case 'keys list': {
      const data = await call(client.GET('/v1/keys', { params: { query: tenantQuery } }), url);
      ctx.print(data, () => table(['PREFIX', 'ROLE', 'TENANT', 'CREATED', 'REVOKED'], data.items.map((k) => [k.prefix, k.role, k.tenantId, k.createdAt, k.revokedAt])));
      return 0;
    }
    case 'keys revoke': {
      await call(client.DELETE('/v1/keys/{id}', { params: { path: { id: args[0]! }, query: tenantQuery } }), url);
      ctx.print({ revoked: args[0] }, () => `revoked ${args[0]}`);
      return 0;
    }
    case 'subscriptions create':
      return subscriptionsCreate(ctx);
    case 'subscriptions list': {
      const data = await call(client.GET('/v1/subscriptions', { params: { query: pageQuery(values) } }), url);
      ctx.print(data, () => table(['ID', 'NAME', 'STATUS', 'EVENT TYPES', 'DESTINATION'], data.items.map((s) => [s.id, s.name, s.status, s.eventTypes.join(','), destinationOf(s)])) + moreHint(ctx, data.nextToken));
      return 0;
    }
    case 'subscriptions show': {
      const data = await call(client.GET('/v1/subscriptions/{id}', { params: { path: { id: args[0]! }, query: tenantQuery } }), url);
      ctx.print(data, () => keyValues(Object.entries(data as Record<string, unknown>)));
      return 0;
    }
    case 'subscriptions rotate-secret': {
      const body = { ...tenantBody, ...(values.secret !== undefined ? { secret: values.secret } : {}) };
      const data = await call(client.POST('/v1/subscriptions/{id}/rotate-secret', { params: { path: { id: args[0]! } }, body }), url);
      ctx.print(data, () => keyValues([signingLine(data), ['note', 'the previous one keeps signing for 24 h']]));
      return 0;
    }
    case 'subscriptions public-keys': {
      const data = await call(client.GET('/v1/subscriptions/{id}/public-keys', { params: { path: { id: args[0]! }, query: tenantQuery } }), url);
      ctx.print(data, () => table(['PUBLIC KEY', 'CREATED', 'EXPIRES'], data.items.map((k) => [k.publicKey, k.createdAt, k.expiresAt])));
      return 0;
    }
    case 'subscriptions delete': {
      await call(client.DELETE('/v1/subscriptions/{id}', { params: { path: { id: args[0]! }, query: tenantQuery } }), url);
      ctx.print({ deleted: args[0] }, () => `deleted ${args[0]}`);
      return 0;
    }
    case 'publish':
      return publish(ctx);
    case 'deliveries list': {
      const status = values.status as NonNullable<NonNullable<paths['/v1/subscriptions/{id}/deliveries']['get']['parameters']['query']>['status']> | undefined;
      const query = { ...pageQuery(values), ...(status !== undefined ? { status } : {}) };
      const data = await call(client.GET('/v1/subscriptions/{id}/deliveries', { params: { path: { id: args[0]! }, query } }), url);
      ctx.print(data, () => deliveryRows(data.items) + moreHint(ctx, data.nextToken));
      return 0;
    }
    case 'deliveries show': {
      const d = await call(client.GET('/v1/deliveries/{id}', { params: { path: { id: args[0]! }, query: tenantQuery } }), url);
      ctx.print(d, () => {
        const { attempts, ...rest } = d;
        return `${keyValues(Object.entries(rest))}\n\n${table(
          ['#', 'AT', 'STATUS', 'MS', 'ERROR', 'NEXT ATTEMPT'],
          attempts.map((a) => [a.number, a.at, a.statusCode, a.durationMs, a.errorMessage ?? a.error, a.nextAttemptAt]),
        )}`;
      });
      return 0;
    }
    case 'deliveries resend': {
      const data = (await call(client.POST('/v1/deliveries/{id}/resend', { params: { path: { id: args[0]! } }, body: tenantBody as Record<string, never> }), url)) as Record<string, unknown>;
      ctx.print(data, () => `resent as ${cell(data.deliveryId)}`);
      return 0;
    }
    case 'dead-letters list': {
      const query = { ...pageQuery(values), ...(values.subscription !== undefined ? { subscriptionId: values.subscription } : {}) };
      const data = await call(client.GET('/v1/dead-letters', { params: { query } }), url);
      const items = data.items as Delivery[];
      ctx.print(data, () => table(['ID', 'SUBSCRIPTION', 'EVENT TYPE', 'ATTEMPTS', 'FINISHED', 'REASON'], items.map((d) => [d.id, d.subscriptionId, d.eventType, attemptsOf(d), d.finishedAt, d.reason])) + moreHint(ctx, data.nextToken));
      return 0;
    }
    case 'dead-letters redrive': {
      const body = { ...tenantBody, ...(values.subscription !== undefined ? { subscriptionId: values.subscription } : {}) };
      const data = (await call(client.POST('/v1/dead-letters/redrive', { body }), url)) as Record<string, unknown>;
      ctx.print(data, () => `redriven: ${cell(data.count)}`);
      return 0;
    }
    case 'stats': {
      const s = await call(client.GET('/v1/subscriptions/{id}/stats', { params: { path: { id: args[0]! }, query: tenantQuery } }), url);
      ctx.print(s, () => {
        const windows = (['1h', '24h', '7d'] as const).map((w) => [w, s.windows[w]] as const);
        const rate = (r: number | null | undefined) => (r === null || r === undefined ? '-' : `${(r * 100).toFixed(1)}%`);
        return `${keyValues([
          ['subscription', s.subscriptionId],
          ['status', s.status],
          ['lastAttemptAt', s.lastAttemptAt],
          ['lastSuccessAt', s.lastSuccessAt],
          ['consecutiveFailures', s.consecutiveFailures],
          ['lastError', s.lastError ?? undefined],
        ])}\n\n${table(
          ['WINDOW', 'EVENTS', 'ATTEMPTS', 'SUCCEEDED', 'FAILED', 'RETRIES', 'DEAD', 'HELD', 'SUCCESS', 'P50 MS', 'P95 MS'],
          windows.map(([w, x]) => [w, x?.events, x?.attempts, x?.succeeded, x?.failed, x?.retries, x?.deadLettered, x?.held, rate(x?.successRate), x?.responseTimeMs?.p50, x?.responseTimeMs?.p95]),
        )}`;
      });
      return 0;
    }
    case 'tail':
      return tail(ctx);
    case 'smoke':
      return smoke(ctx);
    case 'receive':
      return receive(ctx);
  }
  throw new UsageError(`unknown command "${command}"`);
}

/**
 * `--field a,b.c`: the named fields of an answer, tab-separated on one line, for shell scripts
 * (`read -r A B <<< "$(herald … --field a,b)"`). A field the answer lacks is an error, not an
 * empty string a script would carry on with.
 */
export function fieldsOf(data: unknown, spec: string): string {
  const names = spec.split(',').map((f) => f.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--field needs at least one field name');
  return names
    .map((name) => {
      let value: unknown = data;
      for (const part of name.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
      if (value === undefined || value === null) {
        const present = data !== null && typeof data === 'object' ? Object.keys(data).join(', ') : 'none';
        throw new FieldError(`the answer has no "${name}" (its fields: ${present})`);
      }
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    })
    .join('\t');
}

// ---------------------------------------------------------------------------------------------
// Entry

function commandOf(positionals: string[]): { command: string; args: string[] } {
  const [first, second, ...rest] = positionals;
  if (first === undefined) throw new UsageError('no command given');
  if (COMMANDS[first]) return { command: first, args: positionals.slice(1) };
  if (second !== undefined && COMMANDS[`${first} ${second}`]) return { command: `${first} ${second}`, args: rest };
  const subs = Object.keys(COMMANDS).filter((c) => c.startsWith(`${first} `)).map((c) => c.split(' ')[1]);
  if (subs.length) throw new UsageError(second === undefined ? `${first} needs a subcommand: ${subs.join(', ')}` : `unknown subcommand "${first} ${second}" (${first}: ${subs.join(', ')})`);
  throw new UsageError(`unknown command "${first}"`);
}

export async function main(argv: string[], io: Io = { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }): Promise<number> {
  let values: Values = {};
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values as Values;
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    const { command, args } = commandOf(parsed.positionals);
    const spec = COMMANDS[command]!;
    const allowed = new Set<string>([...GLOBAL, ...spec.options]);
    const stray = Object.keys(values).filter((k) => !allowed.has(k));
    if (stray.length) throw new UsageError(`${command} does not take ${stray.map((s) => `--${s}`).join(', ')}`);
    if (args.length < spec.args.length) throw new UsageError(`${command} needs <${spec.args.slice(args.length).join('> <')}>`);
    if (args.length > spec.args.length) throw new UsageError(`${command}: unexpected argument "${args[spec.args.length]}"`);
    if (values.json && values.field !== undefined) throw new UsageError('--json and --field do not go together');
    const { url, key } = resolveConfig(values, io.env);
    if (!key && !OFFLINE.has(command)) throw new UsageError('no API key: set HERALD_KEY, pass --key, or use --profile');
    const client = createClient<paths>({ baseUrl: url, headers: { authorization: `Bearer ${key}` } });
    const print = (data: unknown, human: () => string) => {
      if (values.field !== undefined) io.out(fieldsOf(data, values.field));
      else io.out(values.json ? JSON.stringify(data, null, 2) : human());
    };
    return await dispatch(command, { client, url, key: key ?? '', values, args, io, print });
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`herald: ${(error as Error).message}`);
      io.err('Run "herald --help" for usage.');
      return 2;
    }
    if (error instanceof FieldError) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    if (error instanceof ApiError) {
      io.err(`error: ${error.message}`);
      for (const e of error.problem?.errors ?? []) io.err(`  ${e.path || '(body)'}: ${e.message}`);
      if (values.json && error.problem) io.out(JSON.stringify(error.problem, null, 2));
      return 1;
    }
    io.err(`error: ${(error as Error).stack ?? error}`);
    return 1;
  }
}

// Run when executed (node --import tsx cli/herald.ts); the cli/herald.mjs shim calls main itself.
function isEntry(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

export function run(argv: string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

if (isEntry()) run(process.argv.slice(2));
