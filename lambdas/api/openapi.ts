import * as z from 'zod';
import { documentedShapeOf } from '#core/documented-shape';
import type { CatalogueListing } from '#core/catalogue';
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
 * as a component. A schema used in requests whose answer form differs (defaults fill fields in,
 * or a part of it differs) is `<id>` in requests and `<id>Output` in answers.
 */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};
  /** Ids seen in request bodies and queries: convert all of those before any answer. */
  private readonly requestIds = new Set<string>();

  convert(schema: z.ZodType, io: Io): JsonSchema {
    const { $defs = {}, ...root } = this.raw(schema, io);
    const differs = io === 'output' ? this.differingDefs($defs, this.raw(schema, 'input').$defs ?? {}) : new Set<string>();
    if (io === 'input') for (const id of Object.keys($defs)) this.requestIds.add(id);
    const nameOf = (id: string) => (differs.has(id) && this.requestIds.has(id) ? `${id}Output` : id);
    const relink = (value: JsonSchema) => JSON.parse(JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_m, id: string) => JSON.stringify(`${COMPONENT}${nameOf(id)}`))) as JsonSchema;
    for (const [id, def] of Object.entries($defs)) {
      const name = nameOf(id);
      const linked = relink(def);
      const existing = this.schemas[name];
      if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(linked)) throw new Error(`two different schemas are both called ${name}`);
      this.schemas[name] = linked;
    }
    return relink(root);
  }

  private raw(schema: z.ZodType, io: Io): JsonSchema & { $defs?: Record<string, JsonSchema> } {
    const { $schema: _, ...converted } = z.toJSONSchema(schema, {
      io,
      target: 'draft-2020-12',
      unrepresentable: 'any',
      // A schema that checks `unknown` in code is described by the shape it accepts.
      override: ({ zodSchema, jsonSchema }) => {
        const shape = documentedShapeOf(zodSchema as unknown as z.ZodType);
        if (!shape) return;
        for (const key of Object.keys(jsonSchema)) delete (jsonSchema as JsonSchema)[key];
        Object.assign(jsonSchema, this.convert(shape, io));
      },
    }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    return converted;
  }

  /** The components whose answer form differs from their request form, or refers to one that does. */
  private differingDefs(output: Record<string, JsonSchema>, input: Record<string, JsonSchema>): Set<string> {
    const differs = new Set(Object.keys(output).filter((id) => JSON.stringify(output[id]) !== JSON.stringify(input[id])));
    for (let grew = true; grew; ) {
      grew = false;
      for (const [id, def] of Object.entries(output)) {
        if (differs.has(id)) continue;
        const text = JSON.stringify(def);
        if ([...differs].some((other) => text.includes(`"#/$defs/${other}"`))) {
          differs.add(id);
          grew = true;
        }
      }
    }
    return differs;
  }
}

const TITLES: Record<string, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Quota exceeded',
  503: 'Service unavailable',
};

/** A problem answer, with an example of its document. */
function problemResponse(status: string, description: string): JsonSchema {
  const example = {
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status: Number(status),
    detail: description,
    ...(status === '400' ? { errors: [{ path: 'destination.url', message: 'must be an https URL' }] } : {}),
    ...(status === '429' ? { quota: 'subscriptions', limit: 100 } : {}),
  };
  return { description, content: { 'application/problem+json': { schema: ref('Problem'), example } } };
}

/** The problems every route of a kind can answer; a route's own `errors` add to these. */
function problemsOf(route: Route<unknown>): Record<string, string> {
  const what = ID_PARAMS.find(([prefix]) => route.path.startsWith(prefix))?.[1];
  return {
    ...(route.body || route.query ? { 400: 'Invalid request: `errors` names each field that is wrong' } : {}),
    ...(route.auth === 'public' ? {} : { 401: 'Missing or invalid API key' }),
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
    security: route.auth === 'public' ? [] : route.auth === 'admin' ? [{ adminKey: [] }] : [{ tenantKey: [] }, { adminKey: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: components.convert(route.body, 'input'), ...exampleOf(route.examples?.request) } } } }
      : {}),
    responses: {
      [String(status)]: { description, ...(schema ? { content: { 'application/json': { schema: components.convert(schema, 'output'), ...exampleOf(route.examples?.response) } } } : {}) },
      ...Object.fromEntries(Object.entries(problemsOf(route)).map(([code, text]) => [code, problemResponse(code, text)])),
    },
  };
}

const exampleOf = (example: unknown) => (example === undefined ? {} : { example });

/** The CloudEvents envelope every destination receives, with `data` of one catalogue type. */
function envelopeFor(type: string, version: number, data: JsonSchema, description: string): JsonSchema {
  return {
    type: 'object',
    description,
    required: ['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'tenantid'],
    properties: {
      specversion: { const: '1.0' },
      id: { type: 'string', description: 'The event id: the same on every delivery of the event (deduplicate on it)' },
      source: { type: 'string', description: 'The platform that published it' },
      type: { const: type },
      time: { type: 'string', format: 'date-time' },
      subject: { type: 'string', description: 'What the event is about (ordering is per subject)' },
      datacontenttype: { const: 'application/json' },
      tenantid: { type: 'string' },
      dataschema: { type: 'string', description: `Names the type's version, ending in /v${version}` },
      dataref: { type: 'string', description: 'Thin payloads: where to fetch the entity' },
      environment: { type: 'string', description: "The stack's environment (e.g. production, sandbox), when the operator set one" },
      data,
    },
  };
}

const SIGNATURE_HEADERS = [
  ['webhook-id', 'The message id (the event id; the delivery id for batched notifications)'],
  ['webhook-timestamp', 'Unix seconds when it was signed: refuse old ones against replays'],
  ['webhook-signature', 'Standard Webhooks: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated while secrets rotate'],
].map(([name, description]) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } }));

/**
 * The event catalogue as OpenAPI webhooks: one operation per event type (its latest version),
 * with the envelope a webhook receives, the type's `data` schema and its example.
 */
function catalogueWebhooks(catalogue: readonly CatalogueListing[]): Record<string, JsonSchema> {
  return Object.fromEntries(
    catalogue.map((listing) => {
      const latest = listing.versions[listing.versions.length - 1]!;
      const { $schema: _, $id: _id, ...data } = latest.schema;
      const example = {
        specversion: '1.0',
        id: 'evt_01JD8Z9C3D4E5F6G7H8J9K0M1N',
        source: 'herald',
        type: listing.type,
        time: '2026-12-01T10:15:30.000Z',
        subject: 'example-subject',
        datacontenttype: 'application/json',
        tenantid: 'ten_01JD8Z6V9K3M4N5P6Q7R8S9T0V',
        dataschema: `herald:${listing.type}/v${latest.version}`,
        data: latest.example,
      };
      const versions = listing.versions.length > 1 ? ` Versions: ${listing.versions.map((v) => v.version).join(', ')} (pin one per subscription with \`versions\`).` : '';
      return [
        listing.type,
        {
          post: {
            operationId: `event_${listing.type.replace(/[^A-Za-z0-9]+/g, '_')}`,
            summary: listing.type,
            description: `${listing.description}${listing.origin ? ` Origin: ${listing.origin}.` : ''} Version ${latest.version}.${versions}`,
            tags: ['Event catalogue'],
            // Herald calls the receiver: no API key; the receiver verifies the signature headers.
            security: [],
            parameters: SIGNATURE_HEADERS,
            requestBody: {
              required: true,
              content: { 'application/json': { schema: envelopeFor(listing.type, latest.version, data, listing.description), example } },
            },
            responses: { '200': { description: 'Any 2xx (or the codes of `successStatus`) acknowledges the delivery; anything else is retried by the retry policy' } },
          },
        },
      ];
    }),
  );
}

const cached = new WeakMap<object, JsonSchema>();

/** The document, with the event catalogue the API validates against (GET /v1/event-types). */
export function openApiDocument(catalogue: { list(): CatalogueListing[] }): JsonSchema {
  const known = cached.get(catalogue);
  if (known) return known;
  const components = new Components();
  // Every request schema first, so a component used in both is known as such (see Components).
  for (const route of ROUTES) for (const schema of [route.body, route.query]) if (schema) components.convert(schema, 'input');
  components.convert(problemSchema, 'output');
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route as Route<unknown>, components);
  const document: JsonSchema = {
    openapi: '3.1.0',
    info: {
      title: 'Herald',
      version: '1',
      description: 'Event notifications: signed webhooks, EventBridge buses and third-party APIs. The guide is docs/api.md in the repository.',
    },
    // Relative: the API that serves the document (the deployed stage, or `npm start` locally).
    servers: [{ url: '/', description: 'This API' }],
    tags: TAGS.map(([, name]) => ({ name })),
    paths,
    webhooks: catalogueWebhooks(catalogue.list()),
    components: {
      securitySchemes: {
        adminKey: { type: 'http', scheme: 'bearer', description: 'The platform admin key (HERALD_ADMIN_KEY locally; the stack\'s admin key secret when deployed)' },
        tenantKey: { type: 'http', scheme: 'bearer', description: "A tenant's API key (hk_…): the tenant's own resources only" },
      },
      schemas: Object.fromEntries(Object.entries(components.schemas).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
  cached.set(catalogue, document);
  return document;
}

/** /docs: the document rendered as a readable page (no scripts, no external assets). */
export function docsPage(catalogue: { list(): CatalogueListing[] }): string {
  const doc = openApiDocument(catalogue) as { paths: Record<string, Record<string, { summary: string }>> };
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
