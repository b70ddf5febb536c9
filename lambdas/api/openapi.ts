import * as z from 'zod';
import type { Route } from './route-table.ts';
import { ID_PARAMS, ROUTES } from './routes.ts';
import { problemSchema } from './responses.ts';

/**
 * The OpenAPI 3.1 document of the public contract (docs/api.md), built from the route table
 * (routes.ts): each request body and query from the zod schema the route parses with, each answer
 * from the zod schema in responses.ts. Served at GET /v1/openapi.json and rendered at /docs; the
 * typed client's types (console/api-types.ts) are generated from it by `npm run openapi`.
 */
type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

const COMPONENT = '#/components/schemas/';
const ref = (name: string) => ({ $ref: `${COMPONENT}${name}` });

/**
 * Converts zod schemas to JSON Schema, collecting every schema with an `id` (zod's `.meta({ id })`)
 * as a component. A schema whose input and output differ (defaults fill fields in) is one
 * component for requests and `<id>Output` for answers.
 */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};
  private readonly owner = new Map<string, Io>();

  convert(schema: z.ZodType, io: Io): JsonSchema {
    const { $schema: _, $defs = {}, ...root } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    const names = new Map(Object.keys($defs).map((id) => [id, this.nameFor(id, $defs[id]!, io, $defs)]));
    const relink = (value: JsonSchema) => JSON.parse(JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_m, id: string) => JSON.stringify(`${COMPONENT}${names.get(id) ?? id}`))) as JsonSchema;
    for (const [id, def] of Object.entries($defs)) this.schemas[names.get(id)!] = relink(def);
    return relink(root);
  }

  private nameFor(id: string, def: JsonSchema, io: Io, defs: Record<string, JsonSchema>): string {
    const existing = this.schemas[id];
    if (existing === undefined || this.sameAs(existing, def, defs)) {
      this.owner.set(id, this.owner.get(id) ?? io);
      return id;
    }
    if (this.owner.get(id) !== io) return `${id}${io === 'output' ? 'Output' : 'Input'}`;
    throw new Error(`two different schemas are both called ${id}`);
  }

  // Compared with references spelled alike, so the same schema seen twice is recognised.
  private sameAs(existing: JsonSchema, def: JsonSchema, _defs: Record<string, JsonSchema>): boolean {
    return JSON.stringify(existing).replaceAll(COMPONENT, '#/$defs/') === JSON.stringify(def);
  }
}

const PROBLEM = { 'application/problem+json': { schema: ref('Problem') } };

/** The problems every route of a kind can answer; a route's own `errors` add to these. */
function problemsOf(route: Route<unknown>): Record<string, string> {
  const what = ID_PARAMS.find(([prefix]) => route.path.startsWith(prefix))?.[1];
  return {
    ...(route.body || route.query ? { 400: 'Invalid request: `errors` names each field that is wrong' } : {}),
    401: 'Missing or invalid API key',
    ...(route.auth === 'admin' ? { 403: 'The route needs the platform admin key' } : {}),
    ...(what || route.auth === 'tenant'
      ? { 404: [what ? `No such ${what} (a malformed id too)` : '', route.auth === 'tenant' ? 'an admin key named a tenant that does not exist' : ''].filter(Boolean).join('; ') }
      : {}),
    ...(route.body ? { 413: 'The body is larger than the API takes', 415: 'The body is not application/json' } : {}),
    ...route.errors,
  };
}

const TAGS: [prefix: string, tag: string][] = [
  ['/v1/tenants', 'Tenants'],
  ['/v1/keys', 'API keys'],
  ['/v1/events', 'Events'],
  ['/v1/event-types', 'Event catalogue'],
  ['/v1/subscriptions', 'Subscriptions'],
  ['/v1/deliveries', 'Deliveries'],
  ['/v1/dead-letters', 'Dead letters'],
];

/** `POST /v1/subscriptions/{id}/pause` → `postSubscriptionsIdPause`. */
function operationId(route: Route<unknown>): string {
  const words = route.path.replace(/^\/v1\//, '').split(/[/{}.-]+/).filter(Boolean);
  return [route.method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

function operation(route: Route<unknown>, components: Components): JsonSchema {
  const what = ID_PARAMS.find(([prefix]) => route.path.startsWith(prefix))?.[1] ?? 'resource';
  const query = route.query ? (components.convert(route.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] }) : {};
  const parameters = [
    ...(route.path.includes('{id}') ? [{ name: 'id', in: 'path', required: true, description: `The ${what}'s id`, schema: { type: 'string' } }] : []),
    ...Object.entries(query.properties ?? {}).map(([name, { description, ...schema }]) => ({
      name,
      in: 'query',
      required: query.required?.includes(name) ?? false,
      ...(description ? { description } : {}),
      schema,
    })),
  ];
  const { status, description, schema } = route.response;
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [TAGS.find(([prefix]) => route.path === prefix || route.path.startsWith(`${prefix}/`))?.[1] ?? 'Other'],
    security: route.auth === 'admin' ? [{ adminKey: [] }] : [{ tenantKey: [] }, { adminKey: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: components.convert(route.body, 'input') } } } } : {}),
    responses: {
      [String(status)]: { description, ...(schema ? { content: { 'application/json': { schema: components.convert(schema, 'output') } } } : {}) },
      ...Object.fromEntries(Object.entries(problemsOf(route)).map(([code, text]) => [code, { description: text, content: PROBLEM }])),
    },
  };
}

let cached: JsonSchema | undefined;

export function openApiDocument(): JsonSchema {
  if (cached) return cached;
  const components = new Components();
  components.convert(problemSchema, 'output');
  // Request bodies first: a component whose answer form differs is then the one renamed.
  const inputsFirst = [...ROUTES].sort((a, b) => Number(!a.body) - Number(!b.body));
  const operations = new Map(inputsFirst.map((route) => [route, operation(route as Route<unknown>, components)]));
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method.toLowerCase()] = operations.get(route)!;
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'Herald',
      version: '1',
      description: 'Event notifications: signed webhooks, EventBridge buses and third-party APIs. The guide is docs/api.md in the repository.',
    },
    tags: TAGS.map(([, name]) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        adminKey: { type: 'http', scheme: 'bearer', description: 'The platform admin key (HERALD_ADMIN_KEY locally; the stack\'s admin key secret when deployed)' },
        tenantKey: { type: 'http', scheme: 'bearer', description: "A tenant's API key (hk_…): the tenant's own resources only" },
      },
      schemas: Object.fromEntries(Object.entries(components.schemas).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
  return cached;
}

/** /docs: the document rendered as a readable page (no scripts, no external assets). */
export function docsPage(): string {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { summary: string }>> };
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const rows = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => `<tr><td class="m">${method.toUpperCase()}</td><td><code>${esc(path)}</code></td><td>${esc(op.summary)}</td></tr>`))
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herald API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1b1f24}td{padding:.3rem .6rem;border-bottom:1px solid #e3e6ea;vertical-align:top}.m{font-weight:600;font-family:monospace}code{font-size:14px}</style></head>
<body><h1>Herald API</h1><p>Every route takes <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>application/problem+json</code> naming each field.
The machine-readable document is <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
<table><thead><tr><th>method</th><th>path</th><th>what it does</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
}
