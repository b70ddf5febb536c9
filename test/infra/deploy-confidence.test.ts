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

beforeAll(() => {
  ({ stack, template } = synth({ alarmEmail: 'ops@example.com' }));
});

describe('stateful resources survive the stack', () => {
  it('retains every queue, the dead-letter queues included', () => {
    const queues = resources('AWS::SQS::Queue');
    expect(queues.length).toBe(5);
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
    expect(Object.keys(role)).toEqual([expect.stringMatching(/^DeliveryDeliverRole/)]);
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
    const [[, oac]] = resources('AWS::CloudFront::OriginAccessControl') as [[string, Resource]];
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
    const [[fanoutDlq]] = resources('AWS::SQS::Queue').filter(([id]) => id.startsWith('DeliveryFanoutDeadLetters'));
    const [[fanoutFn]] = resources('AWS::Lambda::Function').filter(([id]) => id.startsWith('DeliveryFanoutFunction'));
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
    const [[id, fifo]] = resources('AWS::SQS::Queue').filter(([, q]) => q.Properties.FifoQueue && q.Properties.RedrivePolicy);
    expect(id).toBe('DeliveryOrderedDeliveries31FF48E4');
    expect(fifo.Properties).toMatchObject({ FifoThroughputLimit: 'perMessageGroupId', DeduplicationScope: 'messageGroup' });
  });
});
