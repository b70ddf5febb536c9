import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_DELIVERY_BATCH_WINDOW_SECONDS, DEFAULT_SLOW_LANE_CONCURRENCY, deliverBatchSize, ENV, FANNED_OUT_ATTRIBUTE, FANOUT_RULE_PATTERN, ORDERED_BATCH_SIZE, ORDERED_MAX_RECEIVES, SLOW_LANE_BATCH_SIZE, SWEEP_INTERVAL_MINUTES, TIMEOUTS } from '../../lambdas/shared/herald-config.ts';
import { HeraldFunction } from './herald-function.ts';
import { DEFAULT_DESTINATION_PORTS } from '../../lambdas/core/destination-policy.ts';
import { QUEUE_DEFAULTS } from './queue-defaults.ts';

/** Deliver invocations per event source mapping at once, unless `herald:deliverMaxConcurrency` says otherwise. */
export const DEFAULT_DELIVER_MAX_CONCURRENCY = 100;

export interface DeliveryProps {
  readonly table: dynamodb.ITable;
  readonly bus: events.IEventBus;
  /** "1" lets subscriptions target http:// and private addresses (never in production). @default "0" */
  readonly allowPrivateTargets?: string;
  /** Ports destinations may use (lambdas/core/destination-policy.ts). @default 443,1024-65535 */
  readonly destinationPorts?: string;
  /** JSON of the destination-trust context (lambdas/core/destination-trust.ts). @default none */
  readonly destinationTrust?: string;
  /**
   * Receives of one message before SQS moves it to the DLQ by itself. The deliver function parks
   * exhausted deliveries itself (with a reason) and re-enqueues long-running policies as fresh
   * messages before this count, so the redrive policy only catches crashes and poison messages.
   * @default 100
   */
  readonly maxReceiveCount?: number;
  /** Accounts whose buses `eventbridge` destinations may target. @default any account */
  readonly customerBusAccounts?: string[];
  /**
   * The assume-role variant: the name of the role customers create in their own accounts, which
   * Herald assumes with the tenant's id as external id. @default none (Herald's own customer-bus role)
   */
  readonly customerRoleName?: string;
  /**
   * The environment name (e.g. `production`, `sandbox`) every event Herald builds carries as the
   * CloudEvents extension attribute `environment`. @default none
   */
  readonly environment?: string;
  /**
   * The customer-bus role's name: the principal customers allow in their bus policies, so it
   * must not change when the role is replaced. @default a name CloudFormation generates
   */
  readonly customerBusRoleName?: string;
  /**
   * The most deliver invocations each event source mapping runs at once (2-1000): Herald's share
   * of the account's Lambda concurrency, which it shares with the platform's own workloads.
   * @default 100
   */
  readonly deliverMaxConcurrency?: number;
  /** Reserved concurrency for the deliver function (a floor and a ceiling). @default none */
  readonly deliverReservedConcurrency?: number;
  /**
   * The most deliveries of one tenant in progress at once, across every deliver invocation
   * (lambdas/core/tenant-share.ts): one tenant's slow or failing endpoints cannot hold every worker.
   * It costs about one conditional write per delivery, so it is off unless set.
   * @default none (no per-tenant cap)
   */
  readonly tenantMaxInFlight?: number;
  /**
   * The most slow-lane deliver invocations at once (2-1000), each one delivery of a slow receiver
   * (lambdas/core/slow-lane.ts): together they are every slow receiver's deliveries in progress,
   * whatever their tenants, apart from the delivery queue's invocations.
   * @default 10
   */
  readonly slowLaneConcurrency?: number;
  /** The standard queue's batching window (see HeraldStackProps). @default 1 */
  readonly deliveryBatchWindowSeconds?: number;
}

/**
 * The delivery path: the fan-out function behind a rule on the bus, the delivery queue with its
 * dead-letter queue, and the deliver function consuming it in batches with partial failures.
 */
export class Delivery extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly fanoutDeadLetterQueue: sqs.Queue;
  public readonly orderedQueue: sqs.Queue;
  public readonly orderedDeadLetterQueue: sqs.Queue;
  /** The slow lane: slow receivers' deliveries, one per deliver invocation (lambdas/core/slow-lane.ts). */
  public readonly slowLane: sqs.Queue;
  public readonly fanout: HeraldFunction;
  public readonly deliver: HeraldFunction;
  /** The role customers' bus policies trust (assumed per tenant by the deliver function). */
  public readonly customerBusRole: iam.Role;
  public readonly fanoutRule: events.Rule;
  public readonly sweeper: HeraldFunction;
  public readonly sweepSchedule: events.Rule;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', QUEUE_DEFAULTS);
    this.queue = new sqs.Queue(this, 'Deliveries', {
      ...QUEUE_DEFAULTS,
      visibilityTimeout: Duration.seconds(TIMEOUTS.deliveryQueueVisibilitySeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 100 },
    });
    // Ordered subscriptions: FIFO, a message group per subscription and subject.
    this.orderedDeadLetterQueue = new sqs.Queue(this, 'OrderedDeadLetters', { ...QUEUE_DEFAULTS, fifo: true });
    this.orderedQueue = new sqs.Queue(this, 'OrderedDeliveries', {
      ...QUEUE_DEFAULTS,
      fifo: true,
      // High-throughput FIFO: the limits apply per message group (subscription and subject), not
      // per queue. Deduplication ids are delivery ids, unique within a group, so deduplicating
      // per group changes nothing. Both properties update in place (no replacement).
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      visibilityTimeout: Duration.seconds(TIMEOUTS.deliveryQueueVisibilitySeconds),
      // An ordered job is never re-enqueued (that would put it behind its subject's later events):
      // each attempt is one more receive of the same message, so the redrive count is SQS's
      // maximum, and a policy of up to 1,000 attempts keeps its order to the end.
      deadLetterQueue: { queue: this.orderedDeadLetterQueue, maxReceiveCount: ORDERED_MAX_RECEIVES },
    });
    // A standard queue like the delivery queue (a fair queue too: jobs carry their tenant as
    // message group), redriving to the same dead-letter queue.
    this.slowLane = new sqs.Queue(this, 'SlowLane', {
      ...QUEUE_DEFAULTS,
      visibilityTimeout: Duration.seconds(TIMEOUTS.deliveryQueueVisibilitySeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 100 },
    });
    this.fanoutDeadLetterQueue = new sqs.Queue(this, 'FanoutDeadLetters', QUEUE_DEFAULTS);
    Validations.of(this.fanoutDeadLetterQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason: `This queue is itself a dead-letter queue: the fan-out rule target's (EventBridge DeadLetterConfig) and the fan-out function's on-failure destination, which cdk-nag cannot see.`,
    });

    const stack = Stack.of(this);
    const env = {
      tableName: props.table.tableName,
      deliveryQueueUrl: this.queue.queueUrl,
      orderedQueueUrl: this.orderedQueue.queueUrl,
      slowLaneQueueUrl: this.slowLane.queueUrl,
      deadLetterQueueUrl: this.deadLetterQueue.queueUrl,
      allowPrivateTargets: props.allowPrivateTargets ?? '0',
      destinationPorts: props.destinationPorts ?? DEFAULT_DESTINATION_PORTS,
      operatorAccount: stack.account,
      destinationTrust: props.destinationTrust ?? '{}',
      // Set below, once the role exists (it trusts the deliver function's role).
      customerBusRoleArn: '',
      customerRoleName: props.customerRoleName ?? '',
      environment: props.environment ?? '',
      eventBusName: props.bus.eventBusName,
      tenantMaxInFlight: props.tenantMaxInFlight === undefined ? '' : String(props.tenantMaxInFlight),
    };

    this.deliver = new HeraldFunction(this, 'Deliver', {
      name: 'deliver',
      env,
      timeout: Duration.seconds(TIMEOUTS.deliverFunctionTimeoutSeconds),
      memorySize: 512,
      reservedConcurrency: props.deliverReservedConcurrency,
      // JSONata transforms run in this worker thread (lambdas/adapters/transform-runner.ts).
      workers: ['lambdas/adapters/transform-worker.mjs'],
    });
    props.table.grantReadWriteData(this.deliver.function);
    this.deliver.acknowledgeTableGrant(props.table, props.table.encryptionKey);
    this.queue.grantConsumeMessages(this.deliver.function);
    this.queue.grantSendMessages(this.deliver.function);
    this.orderedQueue.grantConsumeMessages(this.deliver.function);
    this.orderedQueue.grantSendMessages(this.deliver.function);
    this.slowLane.grantConsumeMessages(this.deliver.function);
    this.slowLane.grantSendMessages(this.deliver.function);
    this.deadLetterQueue.grantSendMessages(this.deliver.function);
    // Herald's own events (subscription.paused, delivery.dead_lettered) go on the Herald bus.
    props.bus.grantPutEventsTo(this.deliver.function);
    // `eventbridge` destinations: PutEvents onto customers' buses in this region, as the
    // customer-bus role (never the deliver role itself, which puts Herald's own operational events
    // on the Herald bus). Which tenant may reach which bus is decided per delivery in
    // core/destination-trust.ts; the customer's bus policy decides who may put on its side.
    const accounts = props.customerBusAccounts?.length ? props.customerBusAccounts : ['*'];
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    // The principal customers' bus policies trust: the deliver function assumes it per tenant,
    // tagging the session `herald-tenant=<id>`. A stable name, so replacing it never breaks a
    // customer's policy; it may put on customers' buses and never on Herald's own.
    this.customerBusRole = new iam.Role(this, 'CustomerBusRole', {
      roleName: props.customerBusRoleName,
      assumedBy: new iam.ArnPrincipal(this.deliver.function.role!.roleArn).withSessionTags(),
      description: "Herald puts tenants' events on customers' EventBridge buses as this role (session tag herald-tenant)",
      maxSessionDuration: Duration.hours(1),
    });
    if (!props.customerRoleName) this.deliver.function.addEnvironment(ENV.customerBusRoleArn, this.customerBusRole.roleArn);
    this.customerBusRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['events:PutEvents'],
        resources: accounts.map((account) => `arn:${stack.partition}:events:${stack.region}:${account}:event-bus/*`),
      }),
    );
    this.customerBusRole.addToPolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['events:PutEvents'], resources: [props.bus.eventBusArn] }));
    for (const account of accounts) {
      Validations.of(this.customerBusRole).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:${region}:${account}:event-bus/*]`,
        reason: 'eventbridge destinations name customers’ buses at run time (any bus, in the accounts herald:customerBusAccounts allows); core/destination-trust.ts binds each tenant to its own, and each customer’s bus policy grants the put (to this role, for its tenant’s session tag).',
      });
    }
    this.deliver.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [this.customerBusRole.roleArn] }));
    if (props.customerRoleName) {
      // The assume-role variant: a role the customer made in its own account, named as the
      // operator documents it, which Herald assumes with the tenant's id as external id.
      this.deliver.function.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['sts:AssumeRole', 'sts:TagSession'],
          resources: accounts.map((account) => `arn:${stack.partition}:iam::${account}:role/${props.customerRoleName}`),
          conditions: { StringLike: { 'sts:ExternalId': 'ten_*' } },
        }),
      );
      for (const account of accounts) {
        if (account !== '*') continue;
        Validations.of(this.deliver).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${props.customerRoleName}]`,
          reason: 'the customer-role variant assumes the documented role name in whichever customer account a tenant is bound to, always with that tenant’s id as external id.',
        });
      }
    }
    const batchWindowSeconds = props.deliveryBatchWindowSeconds ?? DEFAULT_DELIVERY_BATCH_WINDOW_SECONDS;
    this.deliver.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: deliverBatchSize(batchWindowSeconds),
        maxBatchingWindow: Duration.seconds(batchWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: props.deliverMaxConcurrency ?? DEFAULT_DELIVER_MAX_CONCURRENCY,
      }),
    );
    // FIFO event sources take no batching window; order within a group is kept by SQS.
    this.deliver.function.addEventSource(
      new SqsEventSource(this.orderedQueue, { batchSize: ORDERED_BATCH_SIZE, reportBatchItemFailures: true, maxConcurrency: props.deliverMaxConcurrency ?? DEFAULT_DELIVER_MAX_CONCURRENCY }),
    );
    // The slow lane: one record per invocation, so a slow delivery holds only its own, and at
    // most slowLaneConcurrency of them at once (no batching window: a batch of one is full).
    this.deliver.function.addEventSource(
      new SqsEventSource(this.slowLane, { batchSize: SLOW_LANE_BATCH_SIZE, reportBatchItemFailures: true, maxConcurrency: props.slowLaneConcurrency ?? DEFAULT_SLOW_LANE_CONCURRENCY }),
    );

    this.fanout = new HeraldFunction(this, 'Fanout', { name: 'fanout', env, timeout: Duration.seconds(60), memorySize: 512 });
    // Reads the fan-out index; writes batching subscriptions' buffers.
    props.table.grantReadWriteData(this.fanout.function);
    this.fanout.acknowledgeTableGrant(props.table, props.table.encryptionKey);
    this.queue.grantSendMessages(this.fanout.function);
    this.orderedQueue.grantSendMessages(this.fanout.function);
    this.fanoutRule = new events.Rule(this, 'FanoutRule', {
      eventBus: props.bus,
      // Herald's events the API did not fan out itself (herald-config.ts FANNED_OUT_ATTRIBUTE).
      eventPattern: { source: [...FANOUT_RULE_PATTERN.source], detail: { [FANNED_OUT_ATTRIBUTE]: [{ exists: false }] } },
      targets: [
        new targets.LambdaFunction(this.fanout.function, {
          deadLetterQueue: this.fanoutDeadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // EventBridge invokes the function asynchronously: its retry policy and DLQ only cover
    // failing to hand the event to Lambda. A handler that throws is retried by Lambda (twice),
    // then the event is discarded unless the async invocation config names a destination: the
    // same fan-out DLQ, as a Lambda invocation record (requestPayload = the EventBridge event).
    this.fanout.function.configureAsyncInvoke({
      onFailure: new SqsDestination(this.fanoutDeadLetterQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });

    // The reconciliation sweeper: every minute, re-enqueues what was lost between accepting an
    // event and an endpoint answering (see lambdas/core/sweeper.ts).
    this.sweeper = new HeraldFunction(this, 'Sweeper', {
      name: 'sweeper',
      env: { tableName: props.table.tableName, eventBusName: props.bus.eventBusName, deliveryQueueUrl: this.queue.queueUrl, orderedQueueUrl: this.orderedQueue.queueUrl, slowLaneQueueUrl: this.slowLane.queueUrl },
      timeout: Duration.seconds(55),
    });
    props.table.grantReadWriteData(this.sweeper.function);
    this.sweeper.acknowledgeTableGrant(props.table, props.table.encryptionKey);
    this.queue.grantSendMessages(this.sweeper.function);
    this.orderedQueue.grantSendMessages(this.sweeper.function);
    // The slow lane's backlog only (lambdas/core/sweeper.ts): it sends nothing there.
    this.slowLane.grant(this.sweeper.function, 'sqs:GetQueueAttributes');
    props.bus.grantPutEventsTo(this.sweeper.function);
    this.sweepSchedule = new events.Rule(this, 'SweepSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(SWEEP_INTERVAL_MINUTES)),
      targets: [new targets.LambdaFunction(this.sweeper.function, { retryAttempts: 0 })],
    });
  }
}
