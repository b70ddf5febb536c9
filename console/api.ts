/**
 * The console's one way to the API: the typed client (openapi-fetch + console/api-types.ts) with
 * every answer turned into a Result, so a network failure or a problem+json becomes a message the
 * screen shows next to the action, never an unhandled rejection.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './api-types.ts';

export type Subscription = components['schemas']['Subscription'];
export type Delivery = components['schemas']['Delivery'];
export type Stats = components['schemas']['Stats'];
export type Client = ReturnType<typeof createClient<paths>>;

export type Result<T> = { ok: true; data: T } | { ok: false; status?: number; message: string };

/** Told when the API answers 401: the key was revoked or the portal session expired. */
let onUnauthorized: (message: string) => void = () => {};
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export function problemText(error: unknown): string {
  const p = (error ?? {}) as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
  const fields = (p.errors ?? []).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  return [p.detail ?? p.title, ...fields].filter(Boolean).join('; ') || 'the request failed';
}

/** Runs one call of the typed client; the Result says what happened in words. */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<Result<T>> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await request;
  } catch (error) {
    return { ok: false, message: `Herald could not be reached (${(error as Error).message || 'network error'}); check the connection and try again` };
  }
  if (answer.response.ok) return { ok: true, data: answer.data as T };
  const message = problemText(answer.error);
  if (answer.response.status === 401) onUnauthorized(message);
  return { ok: false, status: answer.response.status, message };
}

/** Deployed: config.json next to the console names the API; locally the API is this origin. */
export async function apiBase(): Promise<string> {
  try {
    const res = await fetch('config.json');
    if (res.ok) return ((await res.json()) as { apiUrl: string }).apiUrl.replace(/\/$/, '');
  } catch {
    // same origin
  }
  return location.origin;
}

export function clientFor(baseUrl: string, token: string): Client {
  return createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } });
}

/** Every item of a paged list, up to `max` (the console's lists are small; this bounds a runaway). */
export async function allPages<T>(page: (nextToken?: string) => Promise<Result<{ items: T[]; nextToken?: string }>>, max = 1000): Promise<Result<T[]>> {
  const items: T[] = [];
  let nextToken: string | undefined;
  do {
    const result = await page(nextToken);
    if (!result.ok) return result;
    items.push(...result.data.items);
    nextToken = result.data.nextToken;
  } while (nextToken && items.length < max);
  return { ok: true, data: items };
}
