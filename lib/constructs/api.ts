import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CATALOGUE_DIR, PUBLIC_CALLBACK_PREFIX } from '../../lambdas/shared/herald-config.ts';
import { DEFAULT_DESTINATION_PORTS } from '../../lambdas/core/destination-policy.ts';
import { parseTenantQuotas, type TenantQuotas } from '../../lambdas/core/quotas.ts';
import { HeraldFunction } from './herald-function.ts';

export interface ApiProps {
  readonly table: dynamodb.ITable;
  readonly bus: events.IEventBus;
  readonly deliveryQueue: sqs.IQueue;
  /** The FIFO queue of ordered subscriptions (resend, redrive, test events to them). */
  readonly orderedQueue: sqs.IQueue;
  /** Hex SHA-256 of the platform admin key. */
  readonly adminKeyHash: string;
  /** @default "0" */
  readonly allowPrivateTargets?: string;
  /** Ports destinations may use (lambdas/core/destination-policy.ts). @default 443,1024-65535 */
  readonly destinationPorts?: string;
  /** Per-tenant quotas over the defaults (lambdas/core/quotas.ts). @default 100 subscriptions, 10 keys, 10,000 resends an hour */
  readonly tenantQuotas?: Partial<TenantQuotas>;
  /** JSON of the destination-trust context (lambdas/core/destination-trust.ts). @default none */
  readonly destinationTrust?: string;
  /**
   * The environment name (e.g. `production`, `sandbox`) every event Herald builds carries as the
   * CloudEvents extension attribute `environment`. @default none
   */
  readonly environment?: string;
  /** Steady-state requests per second across the API. @default 100 */
  readonly throttlingRateLimit?: number;
  /** X-Ray tracing of the stage (which requests are kept is the stack's sampling rule). @default true */
  readonly tracingEnabled?: boolean;
  /** @default 200 */
  readonly throttlingBurstLimit?: number;
}

/** Gateway-made answers carry the CORS header too, so the console can read them. */
const CORS_HEADERS = { 'Access-Control-Allow-Origin': "'*'" };

const problem = (status: number, title: string, detail: string) => ({
  'application/problem+json': JSON.stringify({ type: 'about:blank', title, status, detail }),
});

/**
 * The REST API: API Gateway proxies every route to the api function after a request authorizer
 * (cached per key for 5 minutes) has resolved the Bearer key to a tenant and role.
 */
export class Api extends Construct {
  public readonly restApi: apigateway.RestApi;
  public readonly handler: HeraldFunction;
  public readonly authorizer: HeraldFunction;
  public readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.handler = new HeraldFunction(this, 'Handler', {
      name: 'api',
      env: {
        tableName: props.table.tableName,
        eventBusName: props.bus.eventBusName,
        deliveryQueueUrl: props.deliveryQueue.queueUrl,
        orderedQueueUrl: props.orderedQueue.queueUrl,
        allowPrivateTargets: props.allowPrivateTargets ?? '0',
        destinationPorts: props.destinationPorts ?? DEFAULT_DESTINATION_PORTS,
        tenantQuotas: JSON.stringify(parseTenantQuotas(JSON.stringify(props.tenantQuotas ?? {}))),
        operatorAccount: Stack.of(this).account,
        destinationTrust: props.destinationTrust ?? '{}',
        environment: props.environment ?? '',
        catalogueDir: `/var/task/${CATALOGUE_DIR}`,
      },
      timeout: Duration.seconds(29),
      memorySize: 512,
      assets: [CATALOGUE_DIR],
    });
    props.table.grantReadWriteData(this.handler.function);
    this.handler.acknowledgeTableGrant(props.table, props.table.encryptionKey);
    props.bus.grantPutEventsTo(this.handler.function);
    props.deliveryQueue.grantSendMessages(this.handler.function);
    props.orderedQueue.grantSendMessages(this.handler.function);
    // No access to the delivery dead-letter queue: tenants redrive from their own records
    // (lambdas/core/recovery.ts); the queue is the operator's, shared by every tenant.

    this.authorizer = new HeraldFunction(this, 'Authorizer', {
      name: 'authorizer',
      env: { tableName: props.table.tableName, adminKeyHash: props.adminKeyHash },
      timeout: Duration.seconds(10),
    });
    props.table.grantReadData(this.authorizer.function);
    this.authorizer.acknowledgeTableGrant(props.table, props.table.encryptionKey);

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.RETAIN });
    this.restApi = new apigateway.RestApi(this, 'RestApi', {
      // The name is the ApiName dimension of the API's metrics: unique per stack, not "RestApi".
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'Herald event notifications API',
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'prod',
        tracingEnabled: props.tracingEnabled ?? true,
        // Stage metrics (count, 4xx, 5xx, latency) are free; per-method detailed metrics are billed
        // as custom metrics, and nothing an operator acts on needs them.
        metricsEnabled: false,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        throttlingRateLimit: props.throttlingRateLimit ?? 100,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 200,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      },
      // The console (another origin) calls the API with a bearer key; no cookies, so any origin.
      defaultCorsPreflightOptions: {
        allowOrigins: apigateway.Cors.ALL_ORIGINS,
        allowMethods: apigateway.Cors.ALL_METHODS,
        allowHeaders: ['Authorization', 'Content-Type'],
      },
    });
    const requestAuthorizer = new apigateway.RequestAuthorizer(this, 'KeyAuthorizer', {
      handler: this.authorizer.function,
      identitySources: [apigateway.IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.minutes(5),
    });
    const integration = new apigateway.LambdaIntegration(this.handler.function, { proxy: true });
    const methodOptions = { authorizer: requestAuthorizer, authorizationType: apigateway.AuthorizationType.CUSTOM };
    this.restApi.root.addMethod('ANY', integration, methodOptions);
    this.restApi.root.addProxy({ defaultIntegration: integration, defaultMethodOptions: methodOptions, anyMethod: true });
    // The API's documentation is public: GET /v1/openapi.json and GET /docs, no key.
    const v1 = this.restApi.root.addResource('v1');
    const publicMethods = [
      v1.addResource('openapi.json').addMethod('GET', integration, { authorizationType: apigateway.AuthorizationType.NONE }),
      this.restApi.root.addResource('docs').addMethod('GET', integration, { authorizationType: apigateway.AuthorizationType.NONE }),
    ];
    // A receiver's validation callback (CloudEvents webhook handshake): no key, the unguessable
    // token in the path is the credential, checked by the API function.
    const callback = v1.addResource(PUBLIC_CALLBACK_PREFIX.split('/')[2]!).addResource('{id}');
    const callbackMethods = (['GET', 'POST'] as const).map((method) => callback.addMethod(method, integration, { authorizationType: apigateway.AuthorizationType.NONE }));
    for (const method of callbackMethods) {
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions::AwsSolutions-APIG4',
          reason: 'The validation callback is called by a webhook receiver, which has no Herald key; the 256-bit token in the path authorizes it (checked against its hash by the API function).',
        },
        {
          id: 'AwsSolutions::AwsSolutions-COG4',
          reason: 'The validation callback is authorized by its unguessable per-handshake token, not by Cognito or a key.',
        },
      );
    }
    for (const method of publicMethods) {
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions::AwsSolutions-APIG4',
          reason: 'The OpenAPI document and the docs page describe the public contract and hold no tenant data; integrators read them before they have a key.',
        },
        {
          id: 'AwsSolutions::AwsSolutions-COG4',
          reason: 'The OpenAPI document and the docs page are public by design: no Cognito, no key, read-only and free of tenant data.',
        },
      );
    }

    Validations.of(this.restApi).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-APIG2',
        reason: 'Every body and query is validated by strict zod schemas in the api function, which answers problem+json naming each field; a gateway validator would answer in another format.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-APIG3',
        reason: `WAF is the operator's choice and cost: the API is authenticated by key and throttled per stage; associate a web ACL with the stage if required.`,
      },
      {
        id: 'AwsSolutions::AwsSolutions-COG4',
        reason: 'Herald authenticates platform and tenant API keys with a Lambda request authorizer by design; there are no Cognito users.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level API Gateway logging role needs this AWS-managed policy to write access and execution logs.',
      },
    );
    this.restApi.addGatewayResponse('Unauthorized', {
      type: apigateway.ResponseType.UNAUTHORIZED,
      statusCode: '401',
      responseHeaders: CORS_HEADERS,
      templates: problem(401, 'Unauthorized', 'missing or invalid API key'),
    });
    this.restApi.addGatewayResponse('AccessDenied', {
      type: apigateway.ResponseType.ACCESS_DENIED,
      statusCode: '403',
      responseHeaders: CORS_HEADERS,
      templates: problem(403, 'Forbidden', 'this key may not call this route'),
    });
    this.restApi.addGatewayResponse('Throttled', {
      type: apigateway.ResponseType.THROTTLED,
      statusCode: '429',
      responseHeaders: CORS_HEADERS,
      templates: problem(429, 'Too many requests', 'slow down and retry'),
    });
  }
}
