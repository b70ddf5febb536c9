import type { SuccessStatus } from './delivery.ts';
import type { Destination, Subscription } from './subscription.ts';

/**
 * What the delivery path reads from a subscription, without the schemas that check one (those,
 * with zod and the JSONata parser, stay in subscription.ts for the API).
 */
export const DEFAULT_TIMEOUT_SECONDS = 15;
/** The longest `timeoutSeconds` a destination may set; the deliver function's timeout is sized on it (herald-config.ts TIMEOUTS). */
export const MAX_SUBSCRIPTION_TIMEOUT_SECONDS = 90;

/** Secrets that still sign at `now`: the current one plus any rotated-out one inside its grace. */
export function activeSecrets(subscription: Pick<Subscription, 'secrets'>, now: Date): string[] {
  return subscription.secrets.filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime()).map((s) => s.secret);
}

/**
 * The one secret a legacy signature header uses: the oldest that still signs, so receivers that
 * verify the provider's way keep working through the 24 h of a rotation and then switch.
 */
export function legacySigningSecret(subscription: Pick<Subscription, 'secrets'>, now: Date): string {
  const active = subscription.secrets.filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime());
  return [...active].sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0]!.secret;
}

export function timeoutSecondsOf(destination: Destination): number {
  return ('timeoutSeconds' in destination ? destination.timeoutSeconds : undefined) ?? DEFAULT_TIMEOUT_SECONDS;
}

/** Which answers count as success: the subscription's `successStatus` on webhook and http destinations, else any 2xx. */
export function successStatusOf(subscription: Pick<Subscription, 'successStatus' | 'destination'>): SuccessStatus {
  return subscription.destination.type === 'eventbridge' ? '2xx' : (subscription.successStatus ?? '2xx');
}
