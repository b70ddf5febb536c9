import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type * as z from 'zod';
import type { Principal } from '#core/api-keys';
import { jsonBody, parseWith } from '#shared/http';

/**
 * The shape of one route of the API. routes.ts holds the table; the router (routes.ts) and the
 * OpenAPI document (openapi.ts) are both built from it, so what is documented is what is parsed.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * `admin`: the platform admin key only. `tenant`: a tenant's key, for its own tenant, or the admin
 * key naming the tenant (`tenantId` in the query or body). `public`: no key (a receiver's validation
 * callback, which carries its own unguessable token); such a route has no principal.
 */
export type RouteAuth = 'admin' | 'tenant' | 'public';

export const ANONYMOUS: Readonly<Principal> = Object.freeze({ role: 'tenant' });

export interface RouteContext<Ports, Body = unknown, Query = unknown> {
  event: APIGatewayProxyEvent;
  /** On `public` routes, ANONYMOUS: a placeholder naming no tenant, which those handlers never read. */
  principal: Principal;
  params: Record<string, string>;
  ports: Ports;
  /** The JSON body, checked against the input limits and parsed with the route's `body` schema. */
  body: () => Body;
  /** The query string parsed with the route's `query` schema. */
  query: () => Query;
}

export interface RouteSpec<Ports, B extends z.ZodType, Q extends z.ZodType> {
  method: HttpMethod;
  path: `/v1/${string}`;
  auth: RouteAuth;
  summary: string;
  description?: string;
  /** The request body, parsed by `ctx.body()`. */
  body?: B;
  /** Body levels above each document the limits count from (a batch's events: docs in input-limits.ts). */
  bodyNesting?: number;
  /** A check of the raw body before the schema, for a route that words its own error. */
  bodyPrecheck?: (raw: unknown) => Error | undefined;
  query?: Q;
  response: { status: number; description: string; schema?: z.ZodType };
  /** The problems this route answers besides those every route of its kind does (see openapi.ts). */
  errors?: Partial<Record<number, string>>;
  /** Examples shown in the document (each validated against its schema by a test). */
  examples?: { request?: unknown; response?: unknown };
  handler: (ctx: RouteContext<Ports, z.output<B>, z.output<Q>>) => Promise<APIGatewayProxyResult>;
}

/** A route as the router and the document see it (the handler's body and query types erased). */
export type Route<Ports> = RouteSpec<Ports, z.ZodType, z.ZodType>;

export function defineRoute<Ports>() {
  return <B extends z.ZodType = z.ZodUnknown, Q extends z.ZodType = z.ZodUnknown>(spec: RouteSpec<Ports, B, Q>): Route<Ports> => spec as unknown as Route<Ports>;
}

/** The context a handler runs with: body and query parsed on demand, in the order it asks. */
export function contextFor<Ports>(route: Route<Ports>, base: Omit<RouteContext<Ports>, 'body' | 'query'>): RouteContext<Ports> {
  return {
    ...base,
    body: () => {
      const raw = jsonBody(base.event, { nestedAt: route.bodyNesting });
      const refused = route.bodyPrecheck?.(raw);
      if (refused) throw refused;
      return route.body ? parseWith(route.body, raw) : raw;
    },
    query: () => (route.query ? parseWith(route.query, base.event.queryStringParameters ?? {}) : {}),
  };
}
