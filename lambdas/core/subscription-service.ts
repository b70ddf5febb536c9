import type { Principal } from './api-keys.ts';
import { TEST_EVENT_TYPE } from './operational-events.ts';
import type { Catalogue } from './catalogue.ts';
import type { DeliveryJob } from './delivery-job.ts';
import type { Delivery, DeliveryStatus } from './delivery.ts';
import { buildEnvelope } from './envelope.ts';
import { DomainError, NotFoundError, ValidationError, type FieldError } from './errors.ts';
import { newDeliveryId, newId, orderingGroupFor } from './ids.ts';
import type { DeliveryQueue, DeliveryStore, DestinationBindingStore, Page, PageRequest, SubscriptionStore } from './ports.ts';
import { busRefusal, reservedSourceProblem, type DestinationTrust } from './destination-trust.ts';
import { checkHolding, type TenantQuotas } from './quotas.ts';
import { generateSigningKey, generateSigningSecret, normaliseImportedSecret, publicKeyOf } from './signing.ts';
import {
  destinationUrls,
  EVENT_BUS_ARN,
  toPublicSubscription,
  type CreateSubscriptionInput,
  type Destination,
  type PatchSubscriptionInput,
  type PublicSubscription,
  type SigningSecret,
  type Subscription,
} from './subscription.ts';
import { pendingValidation, validationProblems, withConfiguredRateLimit } from './webhook-validation.ts';

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

/**
 * `signature: "ed25519"` signs webhooks with a key pair Herald generates: it has no HMAC secret to
 * import and none to sign a legacy header with, and other destinations carry no signature.
 */
function checkSignatureScheme(input: Pick<CreateSubscriptionInput, 'signature' | 'destination' | 'secret'>): void {
  if (input.signature !== 'ed25519') return;
  const problems: FieldError[] = [];
  if (input.destination.type !== 'webhook') problems.push({ path: 'signature', message: 'applies to webhook destinations only' });
  else if (input.destination.legacySignature) {
    problems.push({ path: 'destination.legacySignature', message: 'is an HMAC signature: it needs signature "hmac" (the default)' });
  }
  if (input.secret !== undefined) problems.push({ path: 'secret', message: 'is an HMAC secret: an ed25519 subscription signs with a key pair Herald generates' });
  if (problems.length > 0) throw new ValidationError(problems);
}

/** A fresh secret of the subscription's scheme: an HMAC `whsec_` secret or an ed25519 `whsk_` key. */
function newSecretFor(subscription: Pick<Subscription, 'signature'>, imported: string | undefined): string {
  if (subscription.signature === 'ed25519') return generateSigningKey();
  return imported === undefined ? generateSigningSecret() : normaliseImportedSecret(imported);
}

export async function createSubscription(
  ports: SubscriptionPorts,
  tenantId: string,
  input: CreateSubscriptionInput,
): Promise<PublicSubscription & { secret?: string }> {
  checkSuccessStatus(input);
  checkSignatureScheme(input);
  const invalid = validationProblems(input);
  if (invalid.length > 0) throw new ValidationError(invalid);
  await checkDestination(ports, tenantId, input.destination);
  checkAgainstCatalogue(ports.catalogue, input.eventTypes, input.versions);
  // Counted before the write: two creates racing at the limit may both pass (a soft quota).
  checkHolding('subscriptions', ports.config.tenantQuotas, await ports.subscriptions.countSubscriptions(tenantId));
  const now = ports.clock().toISOString();
  // An imported secret is stored normalised and never answered back (the platform has it); an
  // ed25519 key is never answered at all (receivers need only the public key, shown on every read).
  const { tenantId: _ignored, secret: imported, ...fields } = input;
  const secret = newSecretFor(fields, imported);
  const created: Subscription = {
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
  // Nothing is delivered before the receiver consents: the route runs the handshake next.
  const subscription = fields.validation ? pendingValidation(created, now) : created;
  await ports.subscriptions.putSubscription(subscription);
  return { ...toPublicSubscription(subscription), ...(imported === undefined && subscription.signature !== 'ed25519' ? { secret } : {}) };
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
  if (patch.signature !== undefined && patch.signature !== (previous.signature ?? 'hmac')) {
    throw new ValidationError([{ path: 'signature', message: 'is fixed when the subscription is created: create a new subscription to change it' }]);
  }
  if (patch.destination && previous.signature === 'ed25519') checkSignatureScheme({ signature: 'ed25519', destination: patch.destination });
  if (patch.destination) await checkDestination(ports, tenantId, patch.destination);
  checkAgainstCatalogue(ports.catalogue, patch.eventTypes, patch.versions);
  const invalid = validationProblems({ validation: patch.validation === undefined ? previous.validation : patch.validation, destination: patch.destination ?? previous.destination });
  if (invalid.length > 0) throw new ValidationError(invalid);
  const { tenantId: _ignored, signature: _fixed, retryPolicy, successStatus, filter, versions, autoPause, batching, rateLimit, maxConcurrency, status, validation, ...fields } = patch;
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
  if (maxConcurrency === null) delete next.maxConcurrency;
  else if (maxConcurrency !== undefined) next.maxConcurrency = maxConcurrency;
  // `status` is not written here: pausing and resuming go through core/health.ts (atomic,
  // announced, held deliveries released), which the route calls after this.
  void status;
  const stored = withValidationPatch(rateLimit === undefined ? next : withConfiguredRateLimit(next, rateLimit ?? undefined), previous, validation, ports.clock().toISOString());
  await ports.subscriptions.putSubscription(stored, previous);
  return toPublicSubscription(stored);
}

/**
 * `validation` set, or a new URL under it, asks the receiver again (pending until it consents;
 * the route sends the handshake); `validation: null` ends it: the tenant's own rateLimit is back
 * and a pending subscription is active (the route releases what was held).
 */
function withValidationPatch(next: Subscription, previous: Subscription, validation: PatchSubscriptionInput['validation'], at: string): Subscription {
  if (validation === null) {
    const { validation: _off, handshake, rateLimit: _capped, ...rest } = next;
    const configured = handshake ? handshake.configuredRateLimit : next.rateLimit;
    return { ...rest, ...(configured ? { rateLimit: configured } : {}), status: next.status === 'pending_validation' ? 'active' : next.status };
  }
  const mode = validation ?? previous.validation;
  if (!mode) return next;
  const urlOf = (s: Subscription) => (s.destination.type === 'eventbridge' ? undefined : s.destination.url);
  const askAgain = !previous.validation || urlOf(next) !== urlOf(previous);
  return askAgain ? pendingValidation({ ...next, validation: mode }, at) : next;
}

export async function deleteSubscription(ports: Pick<SubscriptionPorts, 'subscriptions'>, tenantId: string, id: string): Promise<void> {
  await ports.subscriptions.deleteSubscription(await getSubscription(ports, tenantId, id));
}

/**
 * A new secret signs from now on; the previous one keeps signing beside it for the grace period
 * (24 h by default), so receivers can deploy the new secret without rejecting anything. The new
 * secret is generated (and answered once) or imported (stored normalised, answered `{}`). An
 * ed25519 subscription gets a new key pair, answered as its public key.
 */
export async function rotateSecret(
  ports: SubscriptionPorts,
  tenantId: string,
  id: string,
  imported?: string,
): Promise<{ secret?: string; publicKey?: string; previousSecretExpiresAt?: string }> {
  const previous = await getSubscription(ports, tenantId, id);
  if (previous.signature === 'ed25519') checkSignatureScheme({ signature: 'ed25519', destination: previous.destination, secret: imported });
  const now = ports.clock();
  const graceEnds = new Date(now.getTime() + ports.config.secretGraceHours * 3600_000).toISOString();
  const secret = newSecretFor(previous, imported);
  const kept = previous.secrets
    .filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime())
    .map((s) => ({ ...s, expiresAt: s.expiresAt ?? graceEnds }));
  await ports.subscriptions.putSubscription(
    { ...previous, secrets: [{ secret, createdAt: now.toISOString() }, ...kept], updatedAt: now.toISOString() },
    previous,
  );
  if (previous.signature === 'ed25519') return { publicKey: publicKeyOf(secret), previousSecretExpiresAt: graceEnds };
  // An imported secret is never answered back, nor anything about it (the platform has it all).
  return imported === undefined ? { secret, previousSecretExpiresAt: graceEnds } : {};
}

export interface PublishedPublicKey {
  publicKey: string;
  createdAt: string;
  /** Set on a rotated-out key: it signs beside the current one until then. */
  expiresAt?: string;
}

/**
 * The `whpk_` public keys an ed25519 subscription signs with now: the current one first, then a
 * rotated-out one during its overlap. A receiver that trusts every key listed verifies every
 * request, through a rotation too. An HMAC subscription has none to publish (a 409 saying so).
 */
export async function listPublicKeys(ports: Pick<SubscriptionPorts, 'subscriptions' | 'clock'>, tenantId: string, id: string): Promise<{ subscriptionId: string; items: PublishedPublicKey[] }> {
  const subscription = await getSubscription(ports, tenantId, id);
  if (subscription.signature !== 'ed25519') {
    throw new DomainError(409, 'No public keys', `subscription ${id} signs with a shared HMAC secret (signature "hmac"): only signature "ed25519" has public keys`);
  }
  const now = ports.clock().getTime();
  const signing = subscription.secrets.filter((s: SigningSecret) => !s.expiresAt || Date.parse(s.expiresAt) > now);
  const current = [...signing].sort((a, b) => Number(Boolean(a.expiresAt)) - Number(Boolean(b.expiresAt)) || b.createdAt.localeCompare(a.createdAt));
  return {
    subscriptionId: subscription.id,
    items: current.map((s) => ({ publicKey: publicKeyOf(s.secret), createdAt: s.createdAt, ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}) })),
  };
}

/** Sends a `herald.ping` to this one subscription now, bypassing type matching and filters. */
export async function sendTestEvent(ports: SubscriptionPorts, tenantId: string, id: string): Promise<{ deliveryId: string; eventId: string }> {
  const subscription = await getSubscription(ports, tenantId, id);
  const now = ports.clock();
  const event = buildEnvelope(
    { tenantId, id: newId('evt'), type: TEST_EVENT_TYPE, subject: subscription.id, data: { message: 'Test event from Herald', subscriptionId: subscription.id } },
    ports.config.eventSource,
    now,
    { environment: ports.config.environment },
  );
  const job: DeliveryJob = {
    v: 1,
    deliveryId: newDeliveryId(subscription.id, now),
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
