import type { Principal } from './api-keys.ts';
import type { Catalogue } from './catalogue.ts';
import type { DeliveryJob } from './delivery-job.ts';
import type { Delivery, DeliveryStatus } from './delivery.ts';
import { buildEnvelope } from './envelope.ts';
import { NotFoundError, ValidationError, type FieldError } from './errors.ts';
import { newId, orderingGroupFor } from './ids.ts';
import type { DeliveryQueue, DeliveryStore, DestinationBindingStore, Page, PageRequest, SubscriptionStore } from './ports.ts';
import { busRefusal, reservedSourceProblem, type DestinationTrust } from './destination-trust.ts';
import { checkHolding, type TenantQuotas } from './quotas.ts';
import { generateSigningSecret, normaliseImportedSecret } from './signing.ts';
import {
  destinationUrls,
  EVENT_BUS_ARN,
  toPublicSubscription,
  type CreateSubscriptionInput,
  type Destination,
  type PatchSubscriptionInput,
  type PublicSubscription,
  type Subscription,
} from './subscription.ts';

export interface SubscriptionPorts {
  subscriptions: SubscriptionStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  clock: () => Date;
  catalogue: Catalogue;
  /** Why Herald would refuse to send to this URL (scheme, address, what the host resolves to). */
  targetRefusal: (url: string) => Promise<string | undefined>;
  bindings: DestinationBindingStore;
  /** `region`: where Herald runs; an EventBridge destination must be in it (PutEvents is same-region). */
  config: { eventSource: string; environment?: string; secretGraceHours: number; region?: string; tenantQuotas: TenantQuotas; trust: DestinationTrust };
}

async function checkDestination(ports: Pick<SubscriptionPorts, 'targetRefusal' | 'config' | 'bindings'>, tenantId: string, destination: Destination): Promise<void> {
  const problems: FieldError[] = [];
  if (destination.type === 'eventbridge') {
    const refusal = busRefusal(destination.eventBusArn, tenantId, await ports.bindings.getDestinationBinding(tenantId), ports.config.trust);
    if (refusal) problems.push({ path: 'destination.eventBusArn', message: refusal });
    const reserved = destination.source === undefined ? undefined : reservedSourceProblem(destination.source, ports.config.trust);
    if (reserved) problems.push({ path: 'destination.source', message: reserved });
  }
  for (const { path, url } of destinationUrls(destination)) {
    const refusal = await ports.targetRefusal(url);
    if (refusal) problems.push({ path, message: refusal });
  }
  if (destination.type === 'eventbridge' && ports.config.region) {
    const region = EVENT_BUS_ARN.exec(destination.eventBusArn)?.[1];
    if (region !== ports.config.region) {
      problems.push({ path: 'destination.eventBusArn', message: `must be a bus in ${ports.config.region}, where Herald runs (EventBridge delivers across accounts, not regions)` });
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/** Event types must select catalogued types; pinned versions must exist. */
function checkAgainstCatalogue(catalogue: Catalogue, eventTypes: string[] | undefined, versions: Record<string, number> | undefined | null): void {
  const problems: FieldError[] = [];
  (eventTypes ?? []).forEach((pattern, i) => {
    const problem = catalogue.patternProblem(pattern);
    if (problem) problems.push({ path: `eventTypes[${i}]`, message: problem });
  });
  for (const [type, version] of Object.entries(versions ?? {})) {
    if (!catalogue.entry(type, version)) {
      problems.push({ path: `versions.${type}`, message: catalogue.has(type) ? `${type} has no version ${version}` : `unknown event type '${type}'` });
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/** `successStatus` judges HTTP answers: an EventBridge destination has none to judge. */
function checkSuccessStatus(subscription: Pick<Subscription, 'successStatus' | 'destination'>): void {
  if (subscription.successStatus !== undefined && subscription.destination.type === 'eventbridge') {
    throw new ValidationError([{ path: 'successStatus', message: 'applies to webhook and http destinations only' }]);
  }
}

export async function createSubscription(
  ports: SubscriptionPorts,
  tenantId: string,
  input: CreateSubscriptionInput,
): Promise<PublicSubscription & { secret?: string }> {
  checkSuccessStatus(input);
  await checkDestination(ports, tenantId, input.destination);
  checkAgainstCatalogue(ports.catalogue, input.eventTypes, input.versions);
  // Counted before the write: two creates racing at the limit may both pass (a soft quota).
  checkHolding('subscriptions', ports.config.tenantQuotas, await ports.subscriptions.countSubscriptions(tenantId));
  const now = ports.clock().toISOString();
  // An imported secret is stored normalised and never answered back (the platform has it).
  const { tenantId: _ignored, secret: imported, ...fields } = input;
  const secret = imported === undefined ? generateSigningSecret() : normaliseImportedSecret(imported);
  const subscription: Subscription = {
    ...fields,
    eventTypes: [...new Set(fields.eventTypes)],
    id: newId('sub'),
    tenantId,
    payload: fields.payload ?? 'full',
    ordering: fields.ordering ?? 'none',
    status: fields.status ?? 'active',
    secrets: [{ secret, createdAt: now }],
    createdAt: now,
    updatedAt: now,
  };
  await ports.subscriptions.putSubscription(subscription);
  return { ...toPublicSubscription(subscription), ...(imported === undefined ? { secret } : {}) };
}

export async function getSubscription(ports: Pick<SubscriptionPorts, 'subscriptions'>, tenantId: string, id: string): Promise<Subscription> {
  const subscription = await ports.subscriptions.getSubscription(tenantId, id);
  if (!subscription) throw new NotFoundError('subscription', id);
  return subscription;
}

export async function listSubscriptions(
  ports: Pick<SubscriptionPorts, 'subscriptions'>,
  tenantId: string,
  page: PageRequest,
): Promise<Page<PublicSubscription>> {
  const result = await ports.subscriptions.listSubscriptions(tenantId, page);
  return { ...result, items: result.items.map(toPublicSubscription) };
}

export async function patchSubscription(
  ports: SubscriptionPorts,
  tenantId: string,
  id: string,
  patch: PatchSubscriptionInput,
): Promise<PublicSubscription> {
  const previous = await getSubscription(ports, tenantId, id);
  if (patch.destination) await checkDestination(ports, tenantId, patch.destination);
  checkAgainstCatalogue(ports.catalogue, patch.eventTypes, patch.versions);
  const { tenantId: _ignored, retryPolicy, successStatus, filter, versions, autoPause, batching, status, ...fields } = patch;
  const next: Subscription = { ...previous, updatedAt: ports.clock().toISOString() };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
  if (fields.eventTypes) next.eventTypes = [...new Set(fields.eventTypes)];
  // null clears an optional setting; undefined leaves it alone.
  if (retryPolicy === null) delete next.retryPolicy;
  else if (retryPolicy !== undefined) next.retryPolicy = retryPolicy;
  if (successStatus === null) delete next.successStatus;
  else if (successStatus !== undefined) next.successStatus = successStatus;
  checkSuccessStatus(next);
  if (filter === null) delete next.filter;
  else if (filter !== undefined) next.filter = filter;
  if (versions === null) delete next.versions;
  else if (versions !== undefined) next.versions = versions;
  if (batching === null) delete next.batching;
  else if (batching !== undefined) next.batching = batching;
  if (autoPause === null) delete next.autoPause;
  else if (autoPause !== undefined) next.autoPause = autoPause;
  // `status` is not written here: pausing and resuming go through core/health.ts (atomic,
  // announced, held deliveries released), which the route calls after this.
  void status;
  await ports.subscriptions.putSubscription(next, previous);
  return toPublicSubscription(next);
}

export async function deleteSubscription(ports: Pick<SubscriptionPorts, 'subscriptions'>, tenantId: string, id: string): Promise<void> {
  await ports.subscriptions.deleteSubscription(await getSubscription(ports, tenantId, id));
}

/**
 * A new secret signs from now on; the previous one keeps signing beside it for the grace period
 * (24 h by default), so receivers can deploy the new secret without rejecting anything. The new
 * secret is generated (and answered once) or imported (stored normalised, answered `{}`).
 */
export async function rotateSecret(ports: SubscriptionPorts, tenantId: string, id: string, imported?: string): Promise<{ secret?: string; previousSecretExpiresAt?: string }> {
  const previous = await getSubscription(ports, tenantId, id);
  const now = ports.clock();
  const graceEnds = new Date(now.getTime() + ports.config.secretGraceHours * 3600_000).toISOString();
  const secret = imported === undefined ? generateSigningSecret() : normaliseImportedSecret(imported);
  const kept = previous.secrets
    .filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime())
    .map((s) => ({ ...s, expiresAt: s.expiresAt ?? graceEnds }));
  await ports.subscriptions.putSubscription(
    { ...previous, secrets: [{ secret, createdAt: now.toISOString() }, ...kept], updatedAt: now.toISOString() },
    previous,
  );
  // An imported secret is never answered back, nor anything about it (the platform has it all).
  return imported === undefined ? { secret, previousSecretExpiresAt: graceEnds } : {};
}

/** Sends a `herald.ping` to this one subscription now, bypassing type matching and filters. */
export async function sendTestEvent(ports: SubscriptionPorts, tenantId: string, id: string): Promise<{ deliveryId: string; eventId: string }> {
  const subscription = await getSubscription(ports, tenantId, id);
  const now = ports.clock();
  const event = buildEnvelope(
    { tenantId, id: newId('evt'), type: 'herald.ping', subject: subscription.id, data: { message: 'Test event from Herald', subscriptionId: subscription.id } },
    ports.config.eventSource,
    now,
    { environment: ports.config.environment },
  );
  const job: DeliveryJob = {
    v: 1,
    deliveryId: newId('dlv'),
    tenantId,
    subscriptionId: subscription.id,
    event,
    attemptOffset: 0,
    createdAt: now.toISOString(),
    ...(subscription.ordering === 'subject' ? { orderingGroup: orderingGroupFor(subscription.id, event.subject) } : {}),
  };
  await ports.queue.enqueue([job]);
  return { deliveryId: job.deliveryId, eventId: event.id };
}

export async function listDeliveries(
  ports: Pick<SubscriptionPorts, 'subscriptions' | 'deliveries'>,
  tenantId: string,
  subscriptionId: string,
  page: PageRequest & { status?: DeliveryStatus },
): Promise<Page<Delivery>> {
  await getSubscription(ports, tenantId, subscriptionId);
  return ports.deliveries.listDeliveries(tenantId, subscriptionId, page);
}

export async function getDelivery(ports: Pick<SubscriptionPorts, 'deliveries'>, principal: Principal, tenantId: string, id: string): Promise<Delivery> {
  const delivery = await ports.deliveries.getDelivery(id);
  // Another tenant's delivery answers exactly like a missing one.
  if (!delivery || (principal.role === 'tenant' && delivery.tenantId !== principal.tenantId) || delivery.tenantId !== tenantId) {
    throw new NotFoundError('delivery', id);
  }
  return delivery;
}
