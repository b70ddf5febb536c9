import { Aspects, CfnOutput, CfnParameter, Stack, Token, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as xray from 'aws-cdk-lib/aws-xray';
import type { Construct } from 'constructs';
import { Api } from './constructs/api.ts';
import { Bus } from './constructs/bus.ts';
import { ConsoleSite } from './constructs/console-site.ts';
import { Delivery } from './constructs/delivery.ts';
import { EnterpriseTargets } from './constructs/enterprise-targets.ts';
import type { EnterpriseTarget } from './enterprise-targets.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { SelfTestReceiver } from './constructs/self-test-receiver.ts';
import { Storage } from './constructs/storage.ts';
import { TRACING_CONTEXT } from './constructs/herald-function.ts';
import { TABLE_INDEXES } from '../lambdas/shared/herald-config.ts';
import { parsePortRule } from '../lambdas/core/destination-policy.ts';
import type { TenantQuotas } from '../lambdas/core/quotas.ts';

export interface HeraldStackProps extends StackProps {
  /** Let subscriptions target http:// and private addresses. Never in production. @default false */
  readonly allowPrivateTargets?: boolean;
  /** Email address for operator alarms. @default none */
  readonly alarmEmail?: string;
  /** A CloudWatch dashboard of the operator signals. @default false */
  readonly dashboard?: boolean;
  /** Accounts whose EventBridge buses subscriptions may deliver to. @default any account */
  readonly customerBusAccounts?: string[];
  /**
   * How long the deliver function's event source mapping waits to fill a batch (whole seconds,
   * 0-300): up to DELIVER_BATCH_SIZE (100) records with a window, 10 without one.
   * Longer: fewer invocations, receives and statistics writes per delivery at low traffic; up to
   * that much added latency. @default 1
   */
  readonly deliveryBatchWindowSeconds?: number;
  /**
   * Ports subscription URLs may use: ports and ranges, `!port` to refuse one. Well-known non-HTTP
   * service ports are always refused. @default 443,1024-65535
   */
  readonly destinationPorts?: string;
  /** Per-tenant quotas (any subset). @default { subscriptions: 100, apiKeys: 10, resendsPerHour: 10000 } */
  readonly tenantQuotas?: Partial<TenantQuotas>;
  /**
   * Tenants the operator binds its own account to, on purpose: only they may deliver to buses in
   * the account Herald runs in (never Herald's own bus). @default none
   */
  readonly operatorAccountTenants?: string[];
  /** `source` prefixes no tenant may put on a bus, beside Herald's own and `aws.`. @default none */
  readonly reservedSources?: string[];
  /**
   * Reach customers' buses through a role each customer creates in its own account with this
   * name, assumed with the tenant's id as external id, instead of Herald's own customer-bus role.
   * @default none
   */
  readonly customerRoleName?: string;
  /**
   * The environment name (e.g. `production`, `sandbox`) every event Herald builds carries as the
   * CloudEvents extension attribute `environment`. @default none
   */
  readonly environment?: string;
  /**
   * Origins (`https://app.example.com`) whose pages may frame the tenant console, to embed it
   * with a portal session. @default none: the console is never framed
   */
  readonly consoleEmbedOrigins?: string[];
  /** Operator-configured rule targets for enterprise clients (buses and API destinations). */
  readonly enterpriseTargets?: EnterpriseTarget[];
  /**
   * The API stage's steady-state request rate (requests per second), shared by every caller of
   * this deployment. @default 100
   */
  readonly apiRateLimit?: number;
  /**
   * X-Ray: `sampled` keeps 1% of requests (a sampling rule for this stack's services), `full`
   * every request, `off` none. @default sampled
   */
  readonly tracing?: 'sampled' | 'full' | 'off';
  /** Deliver invocations per event source mapping at once (2-1000). @default 100 */
  readonly deliverMaxConcurrency?: number;
  /** Reserved concurrency for the deliver function. @default none */
  readonly deliverReservedConcurrency?: number;
  /** The most deliveries of one tenant in progress at once (see DeliveryProps). @default none */
  readonly tenantMaxInFlight?: number;
  /** Slow-lane deliver invocations at once (2-1000; see DeliveryProps). @default 10 */
  readonly slowLaneConcurrency?: number;
  /** The API stage's burst (token bucket size). @default 200 */
  readonly apiBurstLimit?: number;
  /**
   * The customer-bus role's name, which customers allow in their bus policies.
   * @default `herald-<stack name>-customer-bus-<region>` (see customerBusRoleName)
   */
  readonly customerBusRoleName?: string;
  /**
   * Deploy the self-test receiver `herald smoke` delivers to: a function behind a public function
   * URL that verifies signatures and records runs the admin registered. @default false
   */
  readonly selfTestReceiver?: boolean;
}

/** The longest AWS region name (e.g. ap-southeast-5, us-isob-east-1), for unresolved regions. */
const MAX_REGION_LENGTH = 14;

/**
 * The stable name of the role customers allow on their buses: `herald-<stack>-customer-bus-<region>`.
 * IAM role names are global per account (hence the region) and at most 64 characters: a name
 * that would be longer fails the synth here, naming the setting that overrides it.
 */
export function customerBusRoleName(stack: Stack, override?: string): string {
  const name = override ?? `herald-${stack.stackName}-customer-bus-${stack.region}`;
  const shown = override ?? `herald-${stack.stackName}-customer-bus-<region>`;
  const regionUnresolved = override === undefined && Token.isUnresolved(stack.region);
  const length = regionUnresolved ? shown.length - '<region>'.length + MAX_REGION_LENGTH : name.length;
  if (!Token.isUnresolved(shown) && !/^[\w+=,.@-]+$/.test(shown.replace('<region>', 'r'))) {
    throw new Error(`customer-bus role name ${shown}: IAM allows only letters, digits and + = , . @ _ -`);
  }
  if (length > 64) {
    throw new Error(`customer-bus role name ${shown} can be ${length} characters; IAM allows 64: use a shorter stack name or set herald:customerBusRoleName`);
  }
  return name;
}

/** Herald as one deployment unit: wires the constructs together, nothing else. */
export class HeraldStack extends Stack {
  public readonly storage: Storage;
  public readonly bus: Bus;
  public readonly delivery: Delivery;
  public readonly api: Api;
  public readonly monitoring: Monitoring;
  public readonly enterpriseTargets: EnterpriseTargets;
  public readonly console: ConsoleSite;
  /** Present when `selfTestReceiver` is set. */
  public readonly selfTestReceiver?: SelfTestReceiver;

  constructor(scope: Construct, id: string, props: HeraldStackProps = {}) {
    // Termination protection on unless the operator turns it off (herald:terminationProtection=false).
    super(scope, id, { ...props, terminationProtection: props.terminationProtection ?? true });
    // Every function's bundle follows the tracing mode (no X-Ray SDK when off): set before any is created.
    this.node.setContext(TRACING_CONTEXT, props.tracing ?? 'sampled');
    const adminKeyHash = new CfnParameter(this, 'AdminKeyHash', {
      type: 'String',
      noEcho: true,
      default: '',
      allowedPattern: '^([0-9a-f]{64})?$',
      description: 'Hex SHA-256 of the platform admin API key: printf %s "$KEY" | sha256sum. Empty: no admin key.',
    });
    const allowPrivateTargets = props.allowPrivateTargets ? '1' : '0';
    // A malformed list fails the synth here, not the first delivery.
    const destinationPorts = parsePortRule(props.destinationPorts).describe;
    const destinationTrust = JSON.stringify({ operatorAccountTenants: props.operatorAccountTenants ?? [], reservedSources: props.reservedSources ?? [] });

    this.storage = new Storage(this, 'Storage');
    this.bus = new Bus(this, 'Bus');
    this.delivery = new Delivery(this, 'Delivery', {
      table: this.storage.table,
      bus: this.bus.bus,
      allowPrivateTargets,
      destinationPorts,
      destinationTrust,
      customerBusAccounts: props.customerBusAccounts,
      customerRoleName: props.customerRoleName,
      environment: props.environment,
      deliverMaxConcurrency: props.deliverMaxConcurrency,
      deliverReservedConcurrency: props.deliverReservedConcurrency,
      tenantMaxInFlight: props.tenantMaxInFlight,
      slowLaneConcurrency: props.slowLaneConcurrency,
      customerBusRoleName: customerBusRoleName(this, props.customerBusRoleName),
      deliveryBatchWindowSeconds: props.deliveryBatchWindowSeconds,
    });
    this.enterpriseTargets = new EnterpriseTargets(this, 'EnterpriseTargets', { bus: this.bus.bus, targets: props.enterpriseTargets ?? [] });
    this.api = new Api(this, 'Api', {
      table: this.storage.table,
      bus: this.bus.bus,
      deliveryQueue: this.delivery.queue,
      orderedQueue: this.delivery.orderedQueue,
      adminKeyHash: adminKeyHash.valueAsString,
      allowPrivateTargets,
      destinationPorts,
      destinationTrust,
      tenantQuotas: props.tenantQuotas,
      environment: props.environment,
      throttlingRateLimit: props.apiRateLimit,
      throttlingBurstLimit: props.apiBurstLimit,
      tracingEnabled: (props.tracing ?? 'sampled') !== 'off',
    });
    this.traceSampling(props.tracing ?? 'sampled');
    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: {
        Api: this.api.handler.function,
        Authorizer: this.api.authorizer.function,
        Fanout: this.delivery.fanout.function,
        Deliver: this.delivery.deliver.function,
        Sweeper: this.delivery.sweeper.function,
      },
      deliveryQueue: this.delivery.queue,
      deadLetterQueue: this.delivery.deadLetterQueue,
      orderedQueue: this.delivery.orderedQueue,
      orderedDeadLetterQueue: this.delivery.orderedDeadLetterQueue,
      fanoutDeadLetterQueue: this.delivery.fanoutDeadLetterQueue,
      enterpriseDeadLetterQueues: Object.fromEntries((props.enterpriseTargets ?? []).map((t, i) => [t.name, this.enterpriseTargets.deadLetterQueues[i]!])),
      table: this.storage.table,
      tableIndexes: TABLE_INDEXES.map((index) => index.indexName),
      apiStage: this.api.restApi.deploymentStage,
      fanoutRule: this.delivery.fanoutRule,
      bus: this.bus.bus,
      alarmEmail: props.alarmEmail,
      dashboard: props.dashboard,
    });

    if (props.selfTestReceiver) {
      this.selfTestReceiver = new SelfTestReceiver(this, 'SelfTestReceiver', { table: this.storage.table, adminKeyHash: adminKeyHash.valueAsString });
    }

    this.console = new ConsoleSite(this, 'Console', {
      apiUrl: this.api.restApi.url,
      apiOrigin: `https://${this.api.restApi.restApiId}.execute-api.${this.region}.${this.urlSuffix}`,
      embedOrigins: props.consoleEmbedOrigins,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url });
    new CfnOutput(this, 'ConsoleUrl', { value: `https://${this.console.distribution.distributionDomainName}/` });
    new CfnOutput(this, 'EventBusName', { value: this.bus.bus.eventBusName });
    new CfnOutput(this, 'EventBusArn', { value: this.bus.bus.eventBusArn });
    new CfnOutput(this, 'DeliveryQueueUrl', { value: this.delivery.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.delivery.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'CustomerBusPrincipal', {
      value: this.delivery.customerBusRole.roleArn,
      description: 'The role that puts events on customers’ buses, per tenant (session tag herald-tenant; a fixed name: herald-<stack>-customer-bus-<region>): allow it events:PutEvents in the bus resource policy',
    });
  }

  /**
   * Traces cost $5 per million recorded: by default a rule for this stack's services (function and
   * API names start with the stack name) keeps 1%, with no per-second reservoir. `full` keeps all;
   * `off` turns active tracing off on every function.
   */
  private traceSampling(mode: 'sampled' | 'full' | 'off'): void {
    if (mode === 'off') {
      Aspects.of(this).add({
        visit(node) {
          if (node instanceof lambda.CfnFunction) node.tracingConfig = { mode: 'PassThrough' };
        },
      });
      return;
    }
    new xray.CfnSamplingRule(this, 'TraceSampling', {
      samplingRule: {
        ruleName: `${this.stackName}-traces`.slice(0, 32),
        priority: 9000,
        fixedRate: mode === 'full' ? 1 : 0.01,
        reservoirSize: mode === 'full' ? 1 : 0,
        serviceName: `${this.stackName}*`,
        serviceType: '*',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });
  }
}
