import * as z from 'zod';
import { validateEventPattern } from '../lambdas/core/event-pattern.ts';
import { HERALD_EVENT_SOURCE } from '../lambdas/shared/herald-config.ts';

/**
 * Static enterprise rule targets, configured by the operator at deploy time (stack props, or the
 * `herald:enterpriseTargets` context list in cdk.json). Each becomes a rule on the Herald bus:
 * either an EventBus target (the client's bus, usually in another account) or an API
 * destination (the client's HTTP API, with an EventBridge Connection holding its auth). Both
 * get their own SQS dead-letter queue and retry policy.
 *
 * Rule patterns are raw EventBridge patterns over the events on the Herald bus:
 * `source: herald.events`, `detail-type: <event type>`, `detail: <the CloudEvent>` — e.g.
 * `{"detail-type": [{"prefix": "order."}], "detail": {"tenantid": ["ten_123"]}}`.
 *
 * API destinations time out after 5 seconds: an EventBridge limit, not a setting. The 10-90 s
 * receiver timeouts of webhook subscriptions do not apply to these static targets; a client API
 * that needs longer must answer 2xx first and work afterwards, or be a webhook subscription.
 * A `timeoutSeconds` in a target fails the synth saying so.
 */
const name = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'must be 1-40 letters, digits or dashes, starting with a letter');
// The same validator as subscription filters, held to EventBridge's rules only: EventBridge, not
// Herald, matches these rules, so Herald's per-filter cost limits do not apply.
const pattern = z
  .record(z.string(), z.unknown())
  .refine((p) => Object.keys(p).length > 0, 'must not be empty')
  .superRefine((p, ctx) => {
    if (Object.keys(p).length === 0) return;
    if ('source' in p && JSON.stringify(p.source) !== JSON.stringify([HERALD_EVENT_SOURCE])) {
      ctx.addIssue({ code: 'custom', path: ['source'], message: `static targets see only events Herald published: source is always ["${HERALD_EVENT_SOURCE}"]` });
    }
    for (const problem of validateEventPattern(p, { costLimits: false })) {
      ctx.addIssue({ code: 'custom', path: problem.path ? [problem.path] : [], message: problem.message });
    }
  });
const retry = {
  /** Attempts EventBridge makes before the DLQ (0-185). @default 185 */
  retryAttempts: z.number().int().min(0).max(185).optional(),
  /** How long EventBridge keeps retrying (60 s to 24 h). @default 86400 */
  maxEventAgeSeconds: z.number().int().min(60).max(86_400).optional(),
};

export const busTargetSchema = z
  .object({
    name,
    eventBusArn: z.string().regex(/^arn:aws(?:-cn|-us-gov)?:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]+$/, 'must be an event bus ARN'),
    eventPattern: pattern,
    ...retry,
  })
  .strict();

const secretName = z.string().min(1).max(512);
export const apiTargetAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('api_key'), header: z.string().min(1), secretName }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1), secretName }).strict(),
  z
    .object({
      type: z.literal('oauth2'),
      tokenUrl: z.url({ protocol: /^https$/ }),
      clientId: z.string().min(1),
      secretName,
      scope: z.string().optional(),
    })
    .strict(),
]);

export const apiTargetSchema = z
  .object({
    name,
    apiUrl: z.url({ protocol: /^https$/ }),
    httpMethod: z.enum(['POST', 'PUT', 'PATCH']).optional(),
    /** Secrets Manager secret names hold the credentials; nothing secret is in the template. */
    auth: apiTargetAuthSchema,
    /**
     * The body sent: a JSON object whose string values may be `$.`-paths into the bus event
     * (e.g. `{"DataType": "$.detail-type", "Data": "$.detail.data"}`). @default the whole event
     */
    inputTemplate: z.record(z.string(), z.unknown()).optional(),
    /** @default {"source": ["herald.events"]} */
    eventPattern: pattern.optional(),
    rateLimitPerSecond: z.number().int().min(1).max(300).optional(),
    timeoutSeconds: z
      .custom<never>(() => false, {
        message: 'API destinations time out after 5 s (an EventBridge limit, not settable); use a webhook subscription (10-90 s) for slower receivers',
      })
      .optional(),
    ...retry,
  })
  .strict();

export const enterpriseTargetSchema = z.union([busTargetSchema, apiTargetSchema]);
export type BusTarget = z.infer<typeof busTargetSchema>;
export type ApiTarget = z.infer<typeof apiTargetSchema>;
export type EnterpriseTarget = BusTarget | ApiTarget;

/** Parses the context/props list, failing synth with every problem and its place. */
export function parseEnterpriseTargets(raw: unknown): EnterpriseTarget[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const value = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (!Array.isArray(value)) throw new Error('herald:enterpriseTargets must be a list');
  const problems: string[] = [];
  const targets = value.map((entry, i) => {
    const schema = entry && typeof entry === 'object' && 'eventBusArn' in entry ? busTargetSchema : apiTargetSchema;
    const parsed = schema.safeParse(entry);
    if (!parsed.success) for (const issue of parsed.error.issues) problems.push(`herald:enterpriseTargets[${i}].${issue.path.join('.')}: ${issue.message}`);
    return parsed.data as EnterpriseTarget;
  });
  const names = targets.filter(Boolean).map((t) => t.name);
  for (const dup of names.filter((n, i) => names.indexOf(n) !== i)) problems.push(`herald:enterpriseTargets: the name ${dup} is used twice`);
  if (problems.length > 0) throw new Error(`invalid enterprise targets:\n  ${problems.join('\n  ')}`);
  return targets;
}

export function isBusTarget(target: EnterpriseTarget): target is BusTarget {
  return 'eventBusArn' in target;
}
