/**
 * Enterprise destinations in the stack: the deliver function may put events on customers' buses
 * (narrowed to configured accounts when given), the principal to allow is a stack output, and
 * operator-configured static targets become rules with their own DLQs and retry policies —
 * still clean under cdk-nag's AwsSolutions pack.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseEnterpriseTargets, type EnterpriseTarget } from '../../lib/enterprise-targets.ts';
import { HeraldStack } from '../../lib/herald-stack.ts';

const TARGETS: EnterpriseTarget[] = parseEnterpriseTargets([
  {
    name: 'AcmeBus',
    eventBusArn: 'arn:aws:events:us-east-1:111122223333:event-bus/acme-orders',
    eventPattern: { 'detail-type': [{ prefix: 'order.' }], detail: { tenantid: ['ten_acme'] } },
    retryAttempts: 50,
    maxEventAgeSeconds: 7200,
  },
  {
    name: 'GlobexErp',
    apiUrl: 'https://erp.globex.example/api/orders',
    httpMethod: 'PUT',
    auth: { type: 'oauth2', tokenUrl: 'https://login.globex.example/oauth/token', clientId: 'herald', secretName: 'herald/globex', scope: 'orders' },
    inputTemplate: { DataType: '$.detail-type', Data: '$.detail.data', Fixed: 'herald' },
    eventPattern: { source: ['herald.events'], 'detail-type': ['purchase_order.submitted'] },
    rateLimitPerSecond: 20,
  },
  {
    name: 'InitechKey',
    apiUrl: 'https://initech.example/hooks',
    auth: { type: 'api_key', header: 'x-api-key', secretName: 'herald/initech' },
  },
]);

let template: Template;

function stackWith(props: ConstructorParameters<typeof HeraldStack>[2], id = 'Ent') {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new HeraldStack(app, id, { env: { account: '999988887777', region: 'us-east-1' }, ...props });
  return { app, stack };
}

beforeAll(() => {
  template = Template.fromStack(stackWith({ enterpriseTargets: TARGETS, customerBusAccounts: ['111122223333', '444455556666'] }).stack);
});

describe('eventbridge destinations', () => {
  it('lets the customer-bus role put events on buses of the allowed accounts only', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'events:PutEvents',
            Resource: [
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:111122223333:event-bus/*']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:444455556666:event-bus/*']] },
            ],
          }),
        ]),
      },
    });
  });

  it('names the principal customers allow in their bus policy: a stable role, assumed per tenant', () => {
    const outputs = template.findOutputs('CustomerBusPrincipal');
    expect(Object.keys(outputs)).toHaveLength(1);
    expect(JSON.stringify(outputs)).toContain('CustomerBusRole');
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'herald-Ent-customer-bus-us-east-1',
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['sts:AssumeRole', 'sts:TagSession'], Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeliverRole'), 'Arn'] } } }),
        ]),
      },
    });
  });

  it("never lets the role customers trust put on Herald's own bus, and gives the deliver role no customer bus at all", () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const customerBus = Object.values(policies).find((p) => JSON.stringify(p.Properties.Roles).includes('CustomerBusRole'))!;
    expect(customerBus.Properties.PolicyDocument.Statement).toContainEqual({
      Action: 'events:PutEvents',
      Effect: 'Deny',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bus[0-9A-F]{8}$/), 'Arn'] },
    });
    const deliver = Object.values(policies).filter((p) => JSON.stringify(p.Properties.Roles).includes('DeliverRole'));
    const puts = deliver.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => [s.Action].flat().includes('events:PutEvents'));
    // Only Herald's own bus (its operational events), never event-bus/* of any account.
    expect(JSON.stringify(puts)).not.toContain('event-bus/*');
  });

  it('with the assume-role variant, may assume only the documented role name, with an external id', () => {
    const variant = Template.fromStack(stackWith({ customerBusAccounts: ['111122223333'], customerRoleName: 'HeraldDelivery' }, 'Variant').stack);
    variant.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: ['sts:AssumeRole', 'sts:TagSession'],
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:role/HeraldDelivery']] },
            Condition: { StringLike: { 'sts:ExternalId': 'ten_*' } },
          },
        ]),
      },
    });
    const functions = variant.findResources('AWS::Lambda::Function');
    const deliver = Object.entries(functions).find(([id]) => id.includes('Deliver'))![1];
    expect(deliver.Properties.Environment.Variables).toMatchObject({ HERALD_CUSTOMER_ROLE_NAME: 'HeraldDelivery', HERALD_CUSTOMER_BUS_ROLE_ARN: '' });
  });
});

describe('static enterprise targets', () => {
  it('routes matching events to the client’s bus with its own DLQ and retry policy', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      // Only events Herald published: a tenant's deliveries can never reach a static target.
      EventPattern: { source: ['herald.events'], 'detail-type': [{ prefix: 'order.' }], detail: { tenantid: ['ten_acme'] } },
      Targets: [
        Match.objectLike({
          Arn: 'arn:aws:events:us-east-1:111122223333:event-bus/acme-orders',
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AcmeBusDeadLetters'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 50, MaximumEventAgeInSeconds: 7200 },
          RoleArn: Match.anyValue(),
        }),
      ],
    });
  });

  it('builds a Connection and an API destination for a third-party API, credentials from Secrets Manager', () => {
    template.hasResourceProperties('AWS::Events::Connection', {
      AuthorizationType: 'OAUTH_CLIENT_CREDENTIALS',
      AuthParameters: {
        OAuthParameters: Match.objectLike({
          AuthorizationEndpoint: 'https://login.globex.example/oauth/token',
          ClientParameters: { ClientID: 'herald', ClientSecret: '{{resolve:secretsmanager:herald/globex:SecretString:clientSecret::}}' },
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Connection', {
      AuthorizationType: 'API_KEY',
      AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'x-api-key', ApiKeyValue: '{{resolve:secretsmanager:herald/initech:SecretString:value::}}' } },
    });
    template.hasResourceProperties('AWS::Events::ApiDestination', {
      InvocationEndpoint: 'https://erp.globex.example/api/orders',
      HttpMethod: 'PUT',
      InvocationRateLimitPerSecond: 20,
    });
  });

  it('gives API targets a DLQ, a retry policy and the input template', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['herald.events'], 'detail-type': ['purchase_order.submitted'] },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('GlobexErpDeadLetters'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          InputTransformer: {
            InputPathsMap: { 'detail-type': '$.detail-type', 'detail-data': '$.detail.data' },
            InputTemplate: '{"DataType":<detail-type>,"Data":<detail-data>,"Fixed":"herald"}',
          },
        }),
      ],
    });
  });

  it('gives every target DLQ encryption, TLS-only access and 14 days of retention', () => {
    const dlqs = Object.entries(template.findResources('AWS::SQS::Queue')).filter(([id]) => id.includes('EnterpriseTargets'));
    expect(dlqs).toHaveLength(3);
    for (const [, queue] of dlqs) expect(queue.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
  });

  it('stays clean under cdk-nag with targets configured', () => {
    const { app } = stackWith({ enterpriseTargets: TARGETS }, 'EntNag');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('configuration errors fail synth with their place', () => {
  it.each([
    [[{ name: 'x', eventBusArn: 'arn:aws:sqs:us-east-1:1:q', eventPattern: { source: ['a'] } }], /\[0\]\.eventBusArn/],
    [[{ name: 'x', apiUrl: 'http://plain.example', auth: { type: 'basic', username: 'u', secretName: 's' } }], /\[0\]\.apiUrl/],
    [[{ name: 'x', apiUrl: 'https://a.example', auth: { type: 'magic' } }], /\[0\]\.auth/],
    [[{ name: 'x', eventBusArn: 'arn:aws:events:us-east-1:111122223333:event-bus/a', eventPattern: {} }], /\[0\]\.eventPattern/],
    // Static targets share validateEventPattern with subscription filters (EventBridge's rules only).
    [[{ name: 'x', eventBusArn: 'arn:aws:events:us-east-1:111122223333:event-bus/a', eventPattern: { detail: { r: [{ 'anything-but': { prefix: '' } }] } } }], /\[0\]\.eventPattern\.detail\.r\[0\]\.anything-but: .*empty/],
    [[{ name: 'x', apiUrl: 'https://a.example', auth: { type: 'basic', username: 'u', secretName: 's' }, eventPattern: { source: 'herald.events' } }], /\[0\]\.eventPattern\.source: pattern leaves must be arrays/],
    [[{ name: 'x', apiUrl: 'https://a.example', auth: { type: 'basic', username: 'u', secretName: 's' }, eventPattern: { detail: { f: [{ wildcard: '*a*a*a*a*a*' }] } } }], /rule is too complex/],
    [
      [
        { name: 'dup', apiUrl: 'https://a.example', auth: { type: 'basic', username: 'u', secretName: 's' } },
        { name: 'dup', apiUrl: 'https://b.example', auth: { type: 'basic', username: 'u', secretName: 's' } },
      ],
      /dup is used twice/,
    ],
    ['{"not": "a list"}', /must be a list/],
  ])('%j', (raw, message) => {
    expect(() => parseEnterpriseTargets(raw)).toThrow(message);
  });

  it('reads a JSON string from -c herald:enterpriseTargets=…', () => {
    expect(parseEnterpriseTargets(JSON.stringify([{ name: 'a', apiUrl: 'https://a.example', auth: { type: 'basic', username: 'u', secretName: 's' } }]))).toHaveLength(1);
  });
});

describe('static target patterns follow EventBridge, not Herald cost limits', () => {
  it('accepts more operator conditions than a subscription filter may have', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ prefix: `p${i}` }));
    const targets = parseEnterpriseTargets([{ name: 'x', eventBusArn: 'arn:aws:events:us-east-1:111122223333:event-bus/a', eventPattern: { 'detail-type': many } }]);
    expect(targets).toHaveLength(1);
  });
});

describe('API destinations time out after 5 s (an EventBridge limit)', () => {
  it('refuses a timeout setting on a static HTTP target, saying why', () => {
    expect(() =>
      parseEnterpriseTargets([{ name: 'Slow', apiUrl: 'https://slow.example', auth: { type: 'basic', username: 'u', secretName: 's' }, timeoutSeconds: 30 }]),
    ).toThrow(/\[0\]\.timeoutSeconds: API destinations time out after 5 s/);
  });
});
