/**
 * What would break or mislead at deploy time, checked without a cloud: names that must be unique
 * per account, stateful resources that must survive the stack, settings operators must be able
 * to change, alarms that can actually fire, and the console's security headers.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { customerBusRoleName, HeraldStack, type HeraldStackProps } from '../../lib/herald-stack.ts';

type Resource = { Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

function synth(props: HeraldStackProps = {}, id = 'Herald') {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new HeraldStack(app, id, props);
  return { stack, template: Template.fromStack(stack) };
}

let stack: HeraldStack;
let template: Template;
const resources = (type: string, t = template) => Object.entries(t.findResources(type)) as [string, Resource][];
/** The one resource of a type whose logical id starts with a prefix. */
const one = (type: string, prefix: string, t = template): [string, Resource] => {
  const found = resources(type, t).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0]!;
};

beforeAll(() => {
  ({ stack, template } = synth({ alarmEmail: 'ops@example.com' }));
});

describe('stateful resources survive the stack', () => {
  it('retains every queue, the dead-letter queues included', () => {
    const queues = resources('AWS::SQS::Queue');
    expect(queues.length).toBe(6);
    for (const [, queue] of queues) expect(queue).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('turns on the table’s deletion protection', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
  });

  it('turns on termination protection by default, off only when asked', () => {
    expect(stack.terminationProtection).toBe(true);
    expect(synth({ terminationProtection: false }, 'Unprotected').stack.terminationProtection).toBe(false);
  });

  it('gives the customer-bus role a stable, region-scoped name (keeping its logical id)', () => {
    const role = template.findResources('AWS::IAM::Role', { Properties: { RoleName: Match.anyValue() } });
    expect(Object.keys(role)).toEqual([expect.stringMatching(/^DeliveryCustomerBusRole/)]);
    expect(Object.values(role)[0]!.Properties.RoleName).toEqual({ 'Fn::Join': ['', ['herald-Herald-customer-bus-', { Ref: 'AWS::Region' }]] });
    const pinned = synth({ env: { account: '111122223333', region: 'eu-west-1' } }, 'Pinned').template;
    pinned.hasResourceProperties('AWS::IAM::Role', { RoleName: 'herald-Pinned-customer-bus-eu-west-1' });
    synth({ customerBusRoleName: 'acme-herald-bus-writer' }, 'Named').template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'acme-herald-bus-writer' });
  });

  it('refuses a role name IAM would refuse (over 64 characters), naming the override', () => {
    const long = new Stack(new App(), 'A'.repeat(40));
    expect(() => customerBusRoleName(long)).toThrow(/IAM allows 64.*herald:customerBusRoleName/);
    expect(() => customerBusRoleName(new Stack(new App(), 'Herald'), 'has space')).toThrow(/only letters/);
    // herald- + 29 + -customer-bus- + the longest region name = 64.
    expect(customerBusRoleName(new Stack(new App(), 'B'.repeat(29)))).toMatch(/^herald-B{29}-customer-bus-/);
  });
});

describe('API throttling is the operator’s setting', () => {
  it('defaults to 100 requests/s and a burst of 200', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })]),
    });
  });

  it('takes herald:apiRateLimit and herald:apiBurstLimit', () => {
    synth({ apiRateLimit: 1500, apiBurstLimit: 3000 }, 'Busy').template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 1500, ThrottlingBurstLimit: 3000 })]),
    });
  });
});

describe('a second region in the same account', () => {
  it('names the console’s origin access control per stack and region (CloudFront names are per account)', () => {
    const [, oac] = one('AWS::CloudFront::OriginAccessControl', 'Console');
    expect(oac.Properties.OriginAccessControlConfig.Name).toEqual({ 'Fn::Join': ['', ['Herald-console-', { Ref: 'AWS::Region' }]] });
    const pinned = synth({ env: { account: '111122223333', region: 'eu-west-1' } }, 'Pinned').template;
    pinned.hasResourceProperties('AWS::CloudFront::OriginAccessControl', { OriginAccessControlConfig: Match.objectLike({ Name: 'Pinned-console-eu-west-1' }) });
  });

  it('falls back to the stack’s unique id when stack name and region could pass 64 characters', () => {
    const long = synth({ customerBusRoleName: 'long-stack-bus-writer' }, 'L'.repeat(50)).template;
    long.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ Name: { 'Fn::Join': ['-', ['herald-console', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]] } }),
    });
  });
});

describe('fan-out failures reach the fan-out DLQ', () => {
  it('sends events the function failed on (after Lambda’s 2 retries) to the fan-out DLQ', () => {
    const [fanoutDlq] = one('AWS::SQS::Queue', 'DeliveryFanoutDeadLetters');
    const [fanoutFn] = one('AWS::Lambda::Function', 'DeliveryFanoutFunction');
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fanoutFn },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [fanoutDlq, 'Arn'] } } },
    });
    // ...and the function's role may send there.
    const fanoutRole = stack.getLogicalId(stack.delivery.fanout.role.node.defaultChild as any);
    const policies = resources('AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(fanoutRole));
    const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({ Resource: { 'Fn::GetAtt': [fanoutDlq, 'Arn'] }, Action: expect.arrayContaining(['sqs:SendMessage']) })]));
  });
});

describe('ordered delivery at high throughput', () => {
  it('runs the FIFO queue in high-throughput mode (limits per message group), same logical id', () => {
    const [id, fifo] = one('AWS::SQS::Queue', 'DeliveryOrderedDeliveries');
    expect(id).toBe('DeliveryOrderedDeliveries31FF48E4');
    expect(fifo.Properties).toMatchObject({ FifoThroughputLimit: 'perMessageGroupId', DeduplicationScope: 'messageGroup' });
  });
});

describe('alarms that can fire', () => {
  const alarm = (prefix: string, t = template) => one('AWS::CloudWatch::Alarm', `Monitoring${prefix}`, t)[1].Properties;
  const dims = (a: Record<string, any>) => Object.fromEntries(a.Dimensions.map((d: { Name: string; Value: unknown }) => [d.Name, d.Value]));

  it('watches the fan-out rule by its name and its custom bus (the rule’s Ref is "bus|rule")', () => {
    const [rule] = one('AWS::Events::Rule', 'DeliveryFanoutRule');
    const [bus] = one('AWS::Events::EventBus', 'Bus');
    expect(dims(alarm('FanoutRuleFailures'))).toEqual({
      EventBusName: { Ref: bus },
      RuleName: { 'Fn::Select': [1, { 'Fn::Split': ['|', { Ref: rule }] }] },
    });
  });

  it('alarms on new dead letters (sent or redriven), not on dead letters present', () => {
    for (const [name, queue] of [['DeadLetterArrivals', 'DeliveryDeadLetters'], ['OrderedDeadLetterArrivals', 'DeliveryOrderedDeadLetters'], ['FanoutDeadLetterArrivals', 'DeliveryFanoutDeadLetters']]) {
      const props = alarm(name!);
      const [queueId] = one('AWS::SQS::Queue', queue!);
      expect(props.MetricName).toBeUndefined();
      const expression = props.Metrics.find((m: { Expression?: string }) => m.Expression);
      expect(expression.Expression).toMatch(/sent.*DIFF\(FILL\(visible, 0\)\)/);
      const metrics = props.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
      expect(metrics.map((m: any) => m.MetricName).sort()).toEqual(['ApproximateNumberOfMessagesVisible', 'NumberOfMessagesSent']);
      for (const m of metrics) expect(m.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }]);
    }
    expect(resources('AWS::CloudWatch::Alarm').filter(([id]) => /DeadLettersPresent/.test(id))).toEqual([]);
  });

  it('alarms on each enterprise target’s DLQ', () => {
    const withTargets = synth({
      enterpriseTargets: [{ name: 'Acme', eventBusArn: 'arn:aws:events:us-east-1:111122223333:event-bus/acme', eventPattern: { source: ['herald.events'] } }],
    }, 'Targets').template;
    const props = alarm('EnterpriseTargetAcmeDeadLetterArrivals', withTargets);
    const [queueId] = one('AWS::SQS::Queue', 'EnterpriseTargetsAcmeDeadLetters', withTargets);
    expect(JSON.stringify(props.Metrics)).toContain(queueId);
  });

  it('alarms on a backlog of due deliveries, not on the age of jobs waiting for their retry', () => {
    const props = alarm('DeliveriesBacklogged');
    expect(props).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Minimum', Period: 300, EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 500 });
    const ages = resources('AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties.MetricName === 'ApproximateAgeOfOldestMessage');
    expect(ages).toHaveLength(1);
    const [orderedId] = one('AWS::SQS::Queue', 'DeliveryOrderedDeliveries');
    expect(ages[0]![1].Properties).toMatchObject({ Threshold: 7 * 86_400, Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [orderedId, 'QueueName'] } }] });
  });

  it('alarms on messages in flight well before SQS’s 120,000 limit', () => {
    expect(alarm('DeliveriesInFlight')).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesNotVisible', Statistic: 'Maximum', Threshold: 96_000 });
  });

  it('alarms on throttled reads and writes of the table and every index', () => {
    const props = alarm('TableThrottles');
    const metrics = props.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
    expect(new Set(metrics.map((m: any) => m.MetricName))).toEqual(new Set(['ReadThrottleEvents', 'WriteThrottleEvents']));
    // Table and four indexes, read and write: 10, CloudWatch's most for one metric math alarm.
    expect(metrics).toHaveLength(10);
    const [tableId] = one('AWS::DynamoDB::Table', 'StorageTable');
    for (const m of metrics) expect(dims(m).TableName).toEqual({ Ref: tableId });
    expect(metrics.map((m: any) => dims(m).GlobalSecondaryIndexName).filter(Boolean).sort()).toEqual(['gsi1', 'gsi1', 'gsi2', 'gsi2', 'gsi3', 'gsi3', 'gsi4', 'gsi4']);
  });

  it('alarms when the deliver function’s p99 duration passes 80% of its timeout', () => {
    expect(alarm('DeliverNearTimeout')).toMatchObject({ MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 80_000 });
  });

  it('watches 5xx of this stack’s API by its real name and stage', () => {
    const [, api] = one('AWS::ApiGateway::RestApi', 'ApiRestApi');
    expect(api.Properties.Name).toBe('Herald-api');
    expect(dims(alarm('Api5xx'))).toEqual({ ApiName: 'Herald-api', Stage: { Ref: expect.stringMatching(/^ApiRestApiDeploymentStageprod/) } });
  });
});

describe('the console’s security headers', () => {
  it('serves the console with a strict CSP naming the API’s origin, HSTS, nosniff and no referrer', () => {
    const [policyId, policy] = one('AWS::CloudFront::ResponseHeadersPolicy', 'ConsoleSecurityHeaders');
    const config = policy.Properties.ResponseHeadersPolicyConfig;
    expect(config.Name).toEqual({ 'Fn::Join': ['', ['Herald-console-headers-', { Ref: 'AWS::Region' }]] });
    const headers = config.SecurityHeadersConfig;
    const [apiId] = one('AWS::ApiGateway::RestApi', 'ApiRestApi');
    const csp = headers.ContentSecurityPolicy.ContentSecurityPolicy;
    const parts = csp['Fn::Join'][1] as unknown[];
    const text = parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('');
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'none'"]) {
      expect(text).toContain(directive);
    }
    expect(text).toMatch(/connect-src 'self' https:\/\/\{"Ref":"ApiRestApi[^"]+"\}\.execute-api\./);
    expect(text).toContain(apiId);
    expect(text).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(headers).toMatchObject({
      ContentSecurityPolicy: { Override: true },
      StrictTransportSecurity: { AccessControlMaxAgeSec: 63_072_000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ DefaultCacheBehavior: Match.objectLike({ ResponseHeadersPolicyId: { Ref: policyId } }) }),
    });
  });

  it('lets only the configured origins frame the console, for an embedded portal session', async () => {
    const { template: embedded } = synth({ consoleEmbedOrigins: ['https://app.platform.example', 'https://admin.platform.example:8443'] }, 'Embedded');
    const [, policy] = one('AWS::CloudFront::ResponseHeadersPolicy', 'ConsoleSecurityHeaders', embedded);
    const headers = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const text = (headers.ContentSecurityPolicy.ContentSecurityPolicy['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : '')).join('');
    expect(text).toMatch(/; frame-ancestors https:\/\/app\.platform\.example https:\/\/admin\.platform\.example:8443$/);
    // X-Frame-Options cannot name origins (DENY would block them): CSP decides alone.
    expect(headers.FrameOptions).toBeUndefined();
    const { heraldPropsFromContext } = await import('../../lib/context.ts');
    const node = (value: string) => new App({ context: { 'herald:consoleEmbedOrigins': value } }).node;
    expect(heraldPropsFromContext(node('https://app.platform.example')).consoleEmbedOrigins).toEqual(['https://app.platform.example']);
    for (const bad of ['http://app.platform.example', 'https://app.platform.example/embed', "https://x.example 'unsafe-inline'", '*']) {
      expect(() => heraldPropsFromContext(node(bad)), bad).toThrow(/herald:consoleEmbedOrigins/);
    }
  });

  it('has no inline script or style in the console’s page for the CSP to block', async () => {
    const { readFileSync } = await import('node:fs');
    const html = readFileSync(new URL('../../console/index.html', import.meta.url), 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
  });
});
