/**
 * The CDK stack's properties that matter: storage durability and encryption, the fan-out rule,
 * queue/redrive/timeout consistency, the event source mapping, function defaults, API auth,
 * throttling and logs, and the operator alarms. Bundling is skipped (assets are not built here;
 * test/infra/synth.test.ts runs the real `cdk synth`).
 */
import { App, type CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SLOW_LANE_CONCURRENCY, DELIVER_BATCH_SIZE, DELIVER_BATCH_SIZE_WITHOUT_WINDOW, ENV, FANOUT_RULE_PATTERN, ORDERED_BATCH_SIZE, SLOW_LANE_BATCH_SIZE, TABLE_SCHEMA, TIMEOUTS } from '../../lambdas/shared/herald-config.ts';
import { heraldPropsFromContext } from '../../lib/context.ts';
import { HeraldStack } from '../../lib/herald-stack.ts';

let template: Template;
let stack: HeraldStack;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new HeraldStack(app, 'Test', { alarmEmail: 'ops@example.com' });
  template = Template.fromStack(stack);
});

type Resource = { Properties: Record<string, any> };
const resources = (type: string) => Object.values(template.findResources(type)) as Resource[];

describe('storage', () => {
  it('is on-demand with point-in-time recovery and a TTL attribute', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
    });
  });

  it('is encrypted with a customer-managed key that rotates', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() } });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('has the key schema and every index the code queries (the status lists keys only, the delivery log keys and status)', () => {
    const table = resources('AWS::DynamoDB::Table')[0]!.Properties;
    expect(table.KeySchema).toEqual([
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
    ]);
    expect(table.GlobalSecondaryIndexes.map((g: { IndexName: string }) => g.IndexName).sort()).toEqual([
      TABLE_SCHEMA.gsi1.indexName,
      TABLE_SCHEMA.gsi2.indexName,
      TABLE_SCHEMA.gsi3.indexName,
      TABLE_SCHEMA.gsi4.indexName,
    ]);
    const sweep = table.GlobalSecondaryIndexes.find((g: { IndexName: string }) => g.IndexName === TABLE_SCHEMA.gsi3.indexName);
    expect(sweep.Projection).toEqual({ ProjectionType: 'KEYS_ONLY' });
    const log = table.GlobalSecondaryIndexes.find((g: { IndexName: string }) => g.IndexName === TABLE_SCHEMA.gsi4.indexName);
    expect(log.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: ['status'] });
  });

  it('is retained when the stack is deleted', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('bus and fan-out', () => {
  it('has a custom event bus', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
  });

  it('routes Herald events the API did not fan out to the fan-out function with retries and its own DLQ', () => {
    const rule = resources('AWS::Events::Rule').find((r) => r.Properties.EventPattern)!.Properties;
    expect(rule.EventPattern).toEqual(FANOUT_RULE_PATTERN);
    expect(rule.EventPattern).toEqual({ source: ['herald.events'], detail: { heraldfannedout: [{ exists: false }] } });
    expect(rule.EventBusName.Ref).toMatch(/^Bus/);
    const target = rule.Targets[0];
    expect(target.Arn['Fn::GetAtt'][0]).toMatch(/Fanout/);
    expect(target.DeadLetterConfig.Arn['Fn::GetAtt'][0]).toMatch(/FanoutDeadLetters/);
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 });
  });
});

describe('delivery queue', () => {
  const deliveries = () => resources('AWS::SQS::Queue').find((q) => q.Properties.RedrivePolicy)!.Properties;

  it('keeps messages 14 days and redrives poison messages to the DLQ', () => {
    const queue = deliveries();
    expect(queue.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(100);
    expect(queue.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0]).toMatch(/DeadLetters/);
  });

  it('is a standard queue, so it can be a fair queue (the tenant travels as each message’s group; no queue attribute turns fairness on)', () => {
    const queue = deliveries();
    expect(queue.FifoQueue).toBeUndefined();
    expect(queue.ContentBasedDeduplication).toBeUndefined();
    expect(queue.FifoThroughputLimit).toBeUndefined();
    // The ordered queue is the FIFO one, with per-subject groups and limits per group.
    const fifo = resources('AWS::SQS::Queue').filter((q) => q.Properties.FifoQueue && q.Properties.RedrivePolicy);
    expect(fifo).toHaveLength(1);
    expect(fifo[0]!.Properties).toMatchObject({ FifoQueue: true, FifoThroughputLimit: 'perMessageGroupId', DeduplicationScope: 'messageGroup' });
  });

  it('encrypts every queue and refuses non-TLS access', () => {
    for (const queue of resources('AWS::SQS::Queue')) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = resources('AWS::SQS::QueuePolicy');
    expect(policies.length).toBe(resources('AWS::SQS::Queue').length);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      );
    }
  });

  it('feeds the deliver function in batches with partial batch failures: up to 100 records in a 1 s window, 10 from the FIFO queue', () => {
    expect(DELIVER_BATCH_SIZE).toBe(100);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: DELIVER_BATCH_SIZE,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: 1,
    });
    // FIFO event source mappings take at most 10 records and no batching window.
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map((r) => r.Properties);
    expect(mappings.filter((m) => m.BatchSize === ORDERED_BATCH_SIZE && m.MaximumBatchingWindowInSeconds === undefined)).toHaveLength(1);
    expect(ORDERED_BATCH_SIZE).toBe(10);
  });

  it('lets the operator trade the batching window for latency (herald:deliveryBatchWindowSeconds)', () => {
    const fast = Template.fromStack(new HeraldStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Fast', { deliveryBatchWindowSeconds: 0 }));
    const mappings = Object.values(fast.findResources('AWS::Lambda::EventSourceMapping')).map((r) => r.Properties);
    // Without a window AWS takes at most 10 records a batch.
    const standard = mappings.filter((p) => p.MaximumBatchingWindowInSeconds !== undefined);
    expect(standard).toHaveLength(1);
    expect(standard[0].MaximumBatchingWindowInSeconds).toBe(0);
    expect(standard[0].BatchSize).toBe(DELIVER_BATCH_SIZE_WITHOUT_WINDOW);
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'herald:deliveryBatchWindowSeconds': '5' } });
    const slower = Template.fromStack(new HeraldStack(app, 'Slower', heraldPropsFromContext(app.node)));
    slower.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: DELIVER_BATCH_SIZE, MaximumBatchingWindowInSeconds: 5 });
    for (const bad of ['-1', '0.5', '301', 'soon']) {
      expect(() => heraldPropsFromContext(new App({ context: { 'herald:deliveryBatchWindowSeconds': bad } }).node), bad).toThrow(/herald:deliveryBatchWindowSeconds must be a whole number of seconds from 0 to 300/);
    }
  });

  it("bounds Herald's share of the account's Lambda concurrency (herald:deliverMaxConcurrency, reserved concurrency by context)", () => {
    const concurrency = (t: Template) => Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).map((r) => r.Properties.ScalingConfig?.MaximumConcurrency);
    // The delivery and ordered queues' mappings, then the slow lane's own (herald:slowLaneConcurrency).
    expect(concurrency(template)).toEqual([100, 100, DEFAULT_SLOW_LANE_CONCURRENCY]);
    const bounded = Template.fromStack(new HeraldStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bounded', { deliverMaxConcurrency: 20, deliverReservedConcurrency: 40 }));
    expect(concurrency(bounded)).toEqual([20, 20, DEFAULT_SLOW_LANE_CONCURRENCY]);
    const deliver = Object.entries(bounded.findResources('AWS::Lambda::Function')).find(([id]) => id.includes('Deliver'))![1];
    expect(deliver.Properties.ReservedConcurrentExecutions).toBe(40);
    const unbounded = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.includes('Deliver'))![1];
    expect(unbounded.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('takes the concurrency bounds from context (herald:deliverMaxConcurrency, herald:deliverReservedConcurrency) onto both mappings and the deliver function', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'herald:deliverMaxConcurrency': '30', 'herald:deliverReservedConcurrency': '60' } });
    const configured = Template.fromStack(new HeraldStack(app, 'Configured', heraldPropsFromContext(app.node)));
    const mappings = Object.values(configured.findResources('AWS::Lambda::EventSourceMapping')).map((r) => r.Properties);
    const batched = mappings.filter((m) => m.BatchSize === DELIVER_BATCH_SIZE || m.BatchSize === ORDERED_BATCH_SIZE);
    expect(batched).toHaveLength(2);
    for (const mapping of batched) expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: 30 });
    // The slow lane keeps its own bound.
    expect(mappings.filter((m) => m.BatchSize === SLOW_LANE_BATCH_SIZE).map((m) => m.ScalingConfig)).toEqual([{ MaximumConcurrency: DEFAULT_SLOW_LANE_CONCURRENCY }]);
    const deliver = Object.entries(configured.findResources('AWS::Lambda::Function')).find(([id]) => id.includes('Deliver'))![1];
    expect(deliver.Properties.ReservedConcurrentExecutions).toBe(60);
    const bad = new App({ context: { 'herald:deliverMaxConcurrency': '1.5' } });
    expect(() => heraldPropsFromContext(bad.node)).toThrow(/herald:deliverMaxConcurrency must be a positive integer/);
  });

  it('caps each tenant’s deliveries in progress only when herald:tenantMaxInFlight is set (context → the deliver function’s environment)', () => {
    const deliverEnv = (t: Template) => Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.includes('Deliver'))![1].Properties.Environment.Variables;
    expect(deliverEnv(template)[ENV.tenantMaxInFlight]).toBe('');
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'herald:tenantMaxInFlight': '200' } });
    const capped = Template.fromStack(new HeraldStack(app, 'Capped', heraldPropsFromContext(app.node)));
    expect(deliverEnv(capped)[ENV.tenantMaxInFlight]).toBe('200');
    const bad = new App({ context: { 'herald:tenantMaxInFlight': '0' } });
    expect(() => heraldPropsFromContext(bad.node)).toThrow(/herald:tenantMaxInFlight must be a positive integer/);
  });

  it('keeps timeouts consistent: subscription timeout < function timeout, visibility ≥ 6 × function timeout', () => {
    const deliver = stack.delivery.deliver.function.node.defaultChild as { timeout?: number };
    expect(deliver.timeout).toBe(TIMEOUTS.deliverFunctionTimeoutSeconds);
    expect(TIMEOUTS.deliverFunctionTimeoutSeconds).toBeGreaterThan(TIMEOUTS.maxSubscriptionTimeoutSeconds);
    expect(deliveries().VisibilityTimeout).toBe(TIMEOUTS.deliveryQueueVisibilitySeconds);
    expect(TIMEOUTS.deliveryQueueVisibilitySeconds).toBeGreaterThanOrEqual(6 * TIMEOUTS.deliverFunctionTimeoutSeconds);
  });
});

describe('tenant console site', () => {
  it('serves the console from a private bucket through CloudFront with origin access control', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ DefaultRootObject: 'index.html', DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }) }),
    });
    template.resourceCountIs('Custom::CDKBucketDeployment', 1);
    template.hasOutput('ConsoleUrl', {});
  });

  it('serves the API reference at /docs/ with the console: a viewer-request function maps /docs and folders to their index', () => {
    const functions = template.findResources('AWS::CloudFront::Function');
    const [logicalId, fn] = Object.entries(functions).find(([, f]) => /docs\/index\.html/.test(f.Properties.FunctionConfig.Comment))!;
    expect(fn.Properties.FunctionCode).toMatch(/request\.uri === '\/docs'/);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [logicalId, 'FunctionARN'] } }],
        }),
      }),
    });
  });

  it('lets the console (another origin) call the API: CORS preflight and headers on gateway answers', () => {
    const options = resources('AWS::ApiGateway::Method').filter((m) => m.Properties.HttpMethod === 'OPTIONS');
    expect(options.length).toBeGreaterThan(0);
    for (const response of resources('AWS::ApiGateway::GatewayResponse')) {
      expect(response.Properties.ResponseParameters).toMatchObject({ 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" });
    }
  });
});

describe('ordered delivery', () => {
  it('has a FIFO delivery queue with a FIFO DLQ, consumed by the deliver function with partial failures', () => {
    const queues = resources('AWS::SQS::Queue').filter((q) => q.Properties.FifoQueue === true);
    expect(queues).toHaveLength(2);
    const fifo = queues.find((q) => q.Properties.RedrivePolicy);
    expect(fifo!.Properties).toMatchObject({ VisibilityTimeout: TIMEOUTS.deliveryQueueVisibilitySeconds, MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
    // Ordered jobs retry as receives of one message: up to 1,000 attempts keep their order.
    expect(fifo!.Properties.RedrivePolicy.maxReceiveCount).toBe(1000);
    const mappings = resources('AWS::Lambda::EventSourceMapping');
    // The delivery queue, the FIFO queue and the slow lane.
    expect(mappings).toHaveLength(3);
    for (const mapping of mappings) expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });
});

describe('slow lane', () => {
  const logicalId = (construct: { node: { defaultChild?: unknown } }, s = stack) => s.getLogicalId(construct.node.defaultChild as CfnResource);
  const slowLaneMapping = (t: Template, s: HeraldStack) =>
    (Object.values(t.findResources('AWS::Lambda::EventSourceMapping')) as Resource[]).filter((m) => JSON.stringify(m.Properties.EventSourceArn).includes(logicalId(s.delivery.slowLane, s)));

  it('is a standard queue like the delivery queue: encrypted, 14 days, redriving to the same dead-letter queue', () => {
    const queue = template.toJSON().Resources[logicalId(stack.delivery.slowLane)];
    expect(queue.Type).toBe('AWS::SQS::Queue');
    expect(queue.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600, VisibilityTimeout: TIMEOUTS.deliveryQueueVisibilitySeconds });
    expect(queue.Properties.FifoQueue).toBeUndefined();
    expect(queue.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stack.delivery.deadLetterQueue), 'Arn'] }, maxReceiveCount: 100 });
    expect(queue.DeletionPolicy).toBe('Retain');
  });

  it('feeds the deliver function one record per invocation, at most herald:slowLaneConcurrency at once (default 10)', () => {
    const [mapping] = slowLaneMapping(template, stack);
    expect(mapping!.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: DEFAULT_SLOW_LANE_CONCURRENCY } });
    expect(mapping!.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
    expect(DEFAULT_SLOW_LANE_CONCURRENCY).toBe(10);
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'herald:slowLaneConcurrency': '4' } });
    const configured = new HeraldStack(app, 'SlowLane', heraldPropsFromContext(app.node));
    const [four] = slowLaneMapping(Template.fromStack(configured), configured);
    expect(four!.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 4 });
  });

  it('refuses a herald:slowLaneConcurrency an event source mapping cannot have (2 to 1000, an integer)', () => {
    for (const bad of ['1', '1001', '2.5', 'ten', '0']) {
      const app = new App({ context: { 'herald:slowLaneConcurrency': bad } });
      expect(() => heraldPropsFromContext(app.node)).toThrow(/herald:slowLaneConcurrency must be an integer from 2 to 1000/);
    }
    expect(heraldPropsFromContext(new App({ context: { 'herald:slowLaneConcurrency': 2 } }).node).slowLaneConcurrency).toBe(2);
    expect(heraldPropsFromContext(new App().node).slowLaneConcurrency).toBeUndefined();
  });

  it('is known to the deliver function (consume and send) and to the sweeper (its backlog only), to no other function', () => {
    const queueId = logicalId(stack.delivery.slowLane);
    const env = (fn: { function: { node: { defaultChild?: unknown } } }) => template.toJSON().Resources[logicalId(fn.function)].Properties.Environment.Variables;
    expect(env(stack.delivery.deliver)[ENV.slowLaneQueueUrl]).toEqual({ Ref: queueId });
    expect(env(stack.delivery.sweeper)[ENV.slowLaneQueueUrl]).toEqual({ Ref: queueId });
    const actionsOf = (role: { node: { defaultChild?: unknown } }) =>
      resources('AWS::IAM::Policy')
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(logicalId(role)))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st: { Resource: unknown }) => JSON.stringify(st.Resource).includes(queueId))
        .flatMap((st: { Action: string | string[] }) => [st.Action].flat());
    expect(actionsOf(stack.delivery.deliver.role)).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage']));
    expect(actionsOf(stack.delivery.sweeper.role)).toEqual(['sqs:GetQueueAttributes']);
    expect(actionsOf(stack.delivery.fanout.role)).toEqual([]);
    expect(actionsOf(stack.api.handler.role)).toEqual([]);
  });
});

describe('reconciliation sweeper', () => {
  it('runs every minute with what it needs: the table, the delivery queue and the bus', () => {
    const sweeper = resources('AWS::Lambda::Function').find((f) => {
      const vars = Object.keys(f.Properties.Environment?.Variables ?? {});
      return vars.includes('EVENT_BUS_NAME') && vars.includes('DELIVERY_QUEUE_URL') && !vars.includes('DEAD_LETTER_QUEUE_URL');
    });
    expect(sweeper).toBeDefined();
    const schedule = resources('AWS::Events::Rule').find((r) => r.Properties.ScheduleExpression);
    expect(schedule!.Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(JSON.stringify(schedule!.Properties.Targets)).toMatch(/Sweeper/);
  });
});

describe('functions', () => {
  it('run Node.js 22 on arm64 with tracing and JSON logs', () => {
    const functions = resources('AWS::Lambda::Function').filter((f) => f.Properties.Runtime?.startsWith('nodejs'));
    expect(functions.length).toBe(5);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' }, LoggingConfig: { LogFormat: 'JSON' } });
    }
  });

  it('apply the deployed SSRF rules by default', () => {
    const withFlag = resources('AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.HERALD_ALLOW_PRIVATE_TARGETS !== undefined);
    expect(withFlag.length).toBe(2);
    for (const fn of withFlag) expect(fn.Properties.Environment.Variables.HERALD_ALLOW_PRIVATE_TARGETS).toBe('0');
  });

  it('give the authorizer read-only table access', () => {
    const authorizerRole = stack.getLogicalId(stack.api.authorizer.role.node.defaultChild as CfnRole);
    const policies = resources('AWS::IAM::Policy').filter((p) => JSON.stringify(p.Properties.Roles).includes(authorizerRole));
    const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
    expect(actions.some((a: string) => /dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toBe(false);
    expect(actions).toContain('dynamodb:GetItem');
  });

  it("give the api function no access to the delivery dead-letter queue (tenants redrive from their own records, never from the shared queue)", () => {
    const apiRole = stack.getLogicalId(stack.api.handler.role.node.defaultChild as CfnRole);
    const dlq = stack.getLogicalId(stack.delivery.deadLetterQueue.node.defaultChild as CfnResource);
    const policies = resources('AWS::IAM::Policy').filter((p) => JSON.stringify(p.Properties.Roles).includes(apiRole));
    expect(policies.length).toBeGreaterThan(0);
    expect(JSON.stringify(policies)).not.toContain(dlq);
    const apiFunction = resources('AWS::Lambda::Function').find((f) => JSON.stringify(f.Properties.Role).includes(apiRole))!;
    expect(Object.keys(apiFunction.Properties.Environment.Variables)).not.toContain(ENV.deadLetterQueueUrl);
  });

  it('grant no wildcard actions', () => {
    for (const policy of resources('AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        for (const action of [statement.Action].flat()) expect(action).not.toMatch(/^(\*|[a-z0-9-]+:\*)$/);
      }
    }
  });
});

describe('api', () => {
  it('authorizes every method with a cached request authorizer, except GET of the two documentation routes and the validation callback', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 300,
    });
    const methods = resources('AWS::ApiGateway::Method').filter((m) => m.Properties.HttpMethod !== 'OPTIONS');
    const open = methods.filter((m) => m.Properties.AuthorizationType !== 'CUSTOM');
    for (const method of open) expect(method.Properties.AuthorizationType).toBe('NONE');
    // Each open method named by its resource's path part: the docs, and the receiver's callback
    // (whose token in the path is its credential, checked by the API function).
    const partOf = (method: { Properties: { ResourceId?: { Ref?: string } } }) => {
      const id = method.Properties.ResourceId?.Ref;
      return id ? template.toJSON().Resources[id]?.Properties?.PathPart : undefined;
    };
    expect(open.map((m) => `${m.Properties.HttpMethod} ${partOf(m)}`).sort()).toEqual(['GET docs', 'GET openapi.json', 'GET {id}', 'POST {id}']);
    const pathParts = resources('AWS::ApiGateway::Resource').map((r) => r.Properties.PathPart);
    expect(pathParts).toEqual(expect.arrayContaining(['docs', 'openapi.json', '{proxy+}', 'validation-callbacks', '{id}']));
  });

  it('throttles, traces and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })]),
    });
  });

  it('answers 401 and 403 from the gateway as problem+json', () => {
    for (const [type, status] of [['UNAUTHORIZED', '401'], ['ACCESS_DENIED', '403']]) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseTemplates: { 'application/problem+json': Match.stringLikeRegexp(`"status":${status}`) },
      });
    }
  });

  it('takes the admin key only as a SHA-256 parameter', () => {
    template.hasParameter('AdminKeyHash', { Type: 'String', NoEcho: true, AllowedPattern: '^([0-9a-f]{64})?$' });
  });
});

describe('monitoring', () => {
  it('alarms on dead letters, waiting deliveries, function errors and API 5xx to an SNS topic', () => {
    const alarms = resources('AWS::CloudWatch::Alarm');
    const metrics = alarms.map((a) => a.Properties.MetricName);
    expect(metrics).toEqual(expect.arrayContaining(['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateAgeOfOldestMessage', 'Errors', 'Throttles', 'Duration', '5XXError']));
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions[0].Ref).toMatch(/AlarmTopic/);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('alarms on fan-out failures: the fan-out DLQ and failed rule invocations', () => {
    const alarms = resources('AWS::CloudWatch::Alarm');
    const failedInvocations = alarms.find((a) => a.Properties.MetricName === 'FailedInvocations');
    expect(failedInvocations?.Properties).toMatchObject({ Namespace: 'AWS/Events', Threshold: 0 });
    const ruleDimension = failedInvocations!.Properties.Dimensions.find((d: any) => d.Name === 'RuleName');
    expect(JSON.stringify(ruleDimension.Value)).toMatch(/Fanout/);
    // New arrivals on the delivery DLQ, the ordered (FIFO) DLQ and the fan-out DLQ.
    const arrivals = alarms.filter((a) => JSON.stringify(a.Properties.Metrics ?? []).includes('NumberOfMessagesSent'));
    expect(arrivals).toHaveLength(3);
  });

  it('alarms once when fan-out drops an event Herald itself delivered (a loop, never amplified)', () => {
    const loop = resources('AWS::CloudWatch::Alarm').find((a) => a.Properties.MetricName === 'loop_detected');
    expect(loop?.Properties).toMatchObject({ Namespace: 'Herald', Threshold: 0, Statistic: 'Sum' });
  });

  it('adds no dashboard unless asked (it costs $3 a month; the alarms do not need it)', () => {
    expect(resources('AWS::CloudWatch::Dashboard')).toHaveLength(0);
  });

  it('charts the functions’ own delivery metrics (EMF, namespace Herald) on the dashboard herald:dashboard adds', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const withDashboard = Template.fromStack(new HeraldStack(app, 'Dashboard', { alarmEmail: 'ops@example.com', dashboard: true }));
    withDashboard.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const [dashboard] = Object.values(withDashboard.findResources('AWS::CloudWatch::Dashboard')) as Resource[];
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const metric of ['deliveries_succeeded', 'deliveries_retry', 'deliveries_failed', 'deliveries_held', 'attempt_duration']) {
      expect(body).toContain(metric);
    }
    expect(body).toContain('Herald');
  });

  it('gives the deliver function what auto-pause needs: PutEvents on the Herald bus and its name', () => {
    const deliver = resources('AWS::Lambda::Function').find((f) => JSON.stringify(f.Properties.Environment ?? {}).includes('DEAD_LETTER_QUEUE_URL') && !JSON.stringify(f.Properties.Environment).includes('HERALD_CATALOGUE_DIR'));
    expect(Object.keys(deliver!.Properties.Environment.Variables)).toContain('EVENT_BUS_NAME');
  });
});
