import { Duration, SecretValue, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HERALD_EVENT_SOURCE } from '../../lambdas/shared/herald-config.ts';
import { QUEUE_DEFAULTS } from './queue-defaults.ts';
import { isBusTarget, type ApiTarget, type BusTarget, type EnterpriseTarget } from '../enterprise-targets.ts';

export interface EnterpriseTargetsProps {
  bus: events.IEventBus;
  targets: EnterpriseTarget[];
}

const DEFAULT_RETRY_ATTEMPTS = 185;
const DEFAULT_MAX_EVENT_AGE = Duration.hours(24);

/**
 * Raw EventBridge pattern keys (`detail-type`) → the CDK's EventPattern keys (`detailType`), with
 * `source: herald.events` always: a static target sees only events Herald itself published, so
 * nothing a tenant delivers to a bus can ever be routed to an enterprise target.
 */
export function toEventPattern(raw: Record<string, unknown>): events.EventPattern {
  const pattern: Record<string, unknown> = { source: [HERALD_EVENT_SOURCE] };
  for (const [key, value] of Object.entries(raw)) pattern[key === 'detail-type' ? 'detailType' : key] = value;
  return pattern as events.EventPattern;
}

/** `{"Data": "$.detail.data"}` → a RuleTargetInput whose `$.`-strings are event paths. */
export function toTargetInput(template: Record<string, unknown>): events.RuleTargetInput {
  const resolve = (value: unknown): unknown => {
    if (typeof value === 'string' && value.startsWith('$.')) return events.EventField.fromPath(value);
    if (Array.isArray(value)) return value.map(resolve);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
    return value;
  };
  return events.RuleTargetInput.fromObject(resolve(template));
}

/**
 * Operator-configured targets for enterprise clients: one rule per client on the Herald bus,
 * each with its own encrypted, TLS-only dead-letter queue and retry policy.
 */
export class EnterpriseTargets extends Construct {
  public readonly rules: events.Rule[] = [];
  public readonly deadLetterQueues: sqs.Queue[] = [];

  constructor(scope: Construct, id: string, props: EnterpriseTargetsProps) {
    super(scope, id);
    for (const target of props.targets) {
      const dlq = new sqs.Queue(this, `${target.name}DeadLetters`, QUEUE_DEFAULTS);
      Validations.of(dlq).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SQS3',
        reason: `This queue is itself the dead-letter queue of the ${target.name} rule target (EventBridge DeadLetterConfig, which cdk-nag cannot see).`,
      });
      this.deadLetterQueues.push(dlq);
      this.rules.push(isBusTarget(target) ? this.busRule(props.bus, target, dlq) : this.apiRule(props.bus, target, dlq));
    }
  }

  private busRule(bus: events.IEventBus, target: BusTarget, dlq: sqs.IQueue): events.Rule {
    const clientBus = events.EventBus.fromEventBusArn(this, `${target.name}Bus`, target.eventBusArn);
    const rule = new events.Rule(this, `${target.name}Rule`, {
      eventBus: bus,
      description: `Herald enterprise target ${target.name}: events to ${target.eventBusArn}`,
      eventPattern: toEventPattern(target.eventPattern),
      targets: [new targets.EventBus(clientBus, { deadLetterQueue: dlq })],
    });
    // The EventBus target's L2 props have no retry policy; EventBridge accepts one on every target.
    (rule.node.defaultChild as events.CfnRule).addPropertyOverride('Targets.0.RetryPolicy', {
      MaximumRetryAttempts: target.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
      MaximumEventAgeInSeconds: target.maxEventAgeSeconds ?? DEFAULT_MAX_EVENT_AGE.toSeconds(),
    });
    return rule;
  }

  private apiRule(bus: events.IEventBus, target: ApiTarget, dlq: sqs.IQueue): events.Rule {
    const secret = (key: string) => SecretValue.secretsManager(target.auth.secretName, { jsonField: key });
    const authorization =
      target.auth.type === 'api_key'
        ? events.Authorization.apiKey(target.auth.header, secret('value'))
        : target.auth.type === 'basic'
          ? events.Authorization.basic(target.auth.username, secret('password'))
          : events.Authorization.oauth({
              authorizationEndpoint: target.auth.tokenUrl,
              httpMethod: events.HttpMethod.POST,
              clientId: target.auth.clientId,
              clientSecret: secret('clientSecret'),
              bodyParameters: {
                grant_type: events.HttpParameter.fromString('client_credentials'),
                ...(target.auth.scope ? { scope: events.HttpParameter.fromString(target.auth.scope) } : {}),
              },
            });
    const connection = new events.Connection(this, `${target.name}Connection`, {
      description: `Herald enterprise target ${target.name}`,
      authorization,
    });
    const destination = new events.ApiDestination(this, `${target.name}Destination`, {
      connection,
      endpoint: target.apiUrl,
      httpMethod: events.HttpMethod[target.httpMethod ?? 'POST'],
      rateLimitPerSecond: target.rateLimitPerSecond,
    });
    return new events.Rule(this, `${target.name}Rule`, {
      eventBus: bus,
      description: `Herald enterprise target ${target.name}: events to ${target.apiUrl}`,
      eventPattern: toEventPattern(target.eventPattern ?? { source: [HERALD_EVENT_SOURCE] }),
      targets: [
        new targets.ApiDestination(destination, {
          deadLetterQueue: dlq,
          retryAttempts: target.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
          maxEventAge: Duration.seconds(target.maxEventAgeSeconds ?? DEFAULT_MAX_EVENT_AGE.toSeconds()),
          ...(target.inputTemplate ? { event: toTargetInput(target.inputTemplate) } : {}),
        }),
      ],
    });
  }
}
