import { Aws, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { buildApiReference, buildConsoleSync } from '../../console/build.ts';
import { CONSOLE_HSTS_MAX_AGE_SECONDS, consoleContentSecurityPolicy } from '../../lambdas/shared/herald-config.ts';

/** The longest AWS region name (e.g. ap-southeast-5), for stacks whose region is a token. */
const MAX_REGION_LENGTH = 14;

/**
 * A name unique per account: `<stack>-console-<region>` (a stack name is unique per account
 * and region), or, when that could pass CloudFront's 64 characters, the stack's unique id.
 */
export function originAccessControlName(stack: Stack): string {
  const regionLength = Token.isUnresolved(stack.region) ? MAX_REGION_LENGTH : stack.region.length;
  if (`${stack.stackName}-console-`.length + regionLength <= 64) return `${stack.stackName}-console-${stack.region}`;
  return Fn.join('-', ['herald-console', Fn.select(2, Fn.split('/', Aws.STACK_ID))]);
}

export interface ConsoleSiteProps {
  /** The API the console calls (written to config.json beside it). */
  readonly apiUrl: string;
  /** The API's origin (scheme and host), the one other place the console may connect to. */
  readonly apiOrigin: string;
  /**
   * Origins whose pages may frame the console (an embedded portal session).
   * @default none: never framed (CSP frame-ancestors 'none' and X-Frame-Options DENY)
   */
  readonly embedOrigins?: string[];
}

/**
 * The tenant console (and the API reference at /docs/) as a static site: a private S3 bucket behind CloudFront with origin access
 * control, filled at deploy time with the bundle built while the stack synthesizes, and a
 * config.json naming the API.
 */
export class ConsoleSite extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public readonly responseHeaders: cloudfront.ResponseHeadersPolicy;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const stack = Stack.of(this);
    const embedOrigins = props.embedOrigins ?? [];
    // The console keeps a tenant's API key in the page: a strict CSP (no inline script, connect
    // only to itself and the API), HSTS, nosniff, no referrer, framed only by the embed origins.
    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      // Names are per account, like the origin access control's (CloudFront is global).
      responseHeadersPolicyName: `${stack.stackName}-console-headers-${stack.region}`,
      comment: 'Herald tenant console: CSP, HSTS, nosniff, referrer policy, frame options',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleContentSecurityPolicy(props.apiOrigin, embedOrigins), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.seconds(CONSOLE_HSTS_MAX_AGE_SECONDS), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        // X-Frame-Options cannot name origins: with embedding, CSP frame-ancestors alone decides.
        ...(embedOrigins.length === 0 ? { frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true } } : {}),
      },
    });
    // CloudFront's default root object applies to / only: /docs and /docs/ are the reference's index.
    const folderIndex = new cloudfront.Function(this, 'FolderIndex', {
      comment: 'Herald console: /docs and /docs/ serve docs/index.html',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        [
          'function handler(event) {',
          '  var request = event.request;',
          "  if (request.uri === '/docs') return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: '/docs/' } } };",
          "  if (request.uri.endsWith('/')) request.uri += 'index.html';",
          '  return request;',
          '}',
        ].join('\n'),
      ),
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Herald tenant console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: this.responseHeaders,
        functionAssociations: [{ function: folderIndex, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
    });
    // CloudFront is global: an origin access control's name must be unique in the account, and
    // the generated one (stack name + path + hash) is the same for this stack in every region.
    const oac = this.distribution.node.findAll().find((c): c is cloudfront.CfnOriginAccessControl => c instanceof cloudfront.CfnOriginAccessControl)!;
    oac.addPropertyOverride('OriginAccessControlConfig.Name', originAccessControlName(Stack.of(this)));
    const files = buildConsoleSync();
    // The API reference at /docs/, with the checked-in document (a unit test holds it to the
    // code) naming the deployed API as its server.
    const reference = buildApiReference();
    const document = JSON.parse(readFileSync(new URL('../../openapi/herald.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      sources: [
        ...Object.entries(files).map(([name, content]) => s3deploy.Source.data(name, content)),
        s3deploy.Source.jsonData('config.json', { apiUrl: props.apiUrl }),
        ...Object.entries(reference).map(([name, content]) => s3deploy.Source.data(`docs/${name}`, content)),
        s3deploy.Source.jsonData('docs/openapi.json', { ...document, servers: [{ url: props.apiUrl, description: 'This deployment' }] }),
      ],
    });

    Validations.of(this.bucket).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-S1',
        reason: 'The bucket only holds the console’s public static files, served through CloudFront; access logging them adds cost without security value.',
      },
    );
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-CFR1',
        reason: 'The console serves tenants wherever they are; geo restrictions are the operator’s choice per deployment.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-CFR2',
        reason: 'The distribution serves static files only; every request for data goes to the key-authenticated, throttled API.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-CFR3',
        reason: 'Access logs of static console files add cost without security value; the API keeps its own access logs.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-CFR4',
        reason: 'The default CloudFront domain and certificate are used; attach a custom domain with a TLSv1.2_2021 policy where required.',
      },
    );
    // The deployment's helper function is a stack-level singleton created by aws-cdk-lib.
    const helpers = Stack.of(this).node.children.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    for (const helper of [deployment, ...helpers]) Validations.of(helper).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The CDK BucketDeployment helper function writes its logs with the AWS-managed basic execution policy.',
      },
      ...[
        'Resource::*',
        'Action::s3:GetObject*',
        'Action::s3:GetBucket*',
        'Action::s3:List*',
        'Action::s3:DeleteObject*',
        'Action::s3:Abort*',
        // The CDK asset bucket: named with placeholders, or resolved when the stack has an env.
        Token.isUnresolved(Stack.of(this).account) || Token.isUnresolved(Stack.of(this).region)
          ? 'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*'
          : `Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${Stack.of(this).account}-${Stack.of(this).region}/*`,
        `Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*`,
      ].map((finding) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[${finding}]`,
        reason: 'The CDK BucketDeployment helper copies the console from the CDK asset bucket into the site bucket and invalidates CloudFront; aws-cdk-lib scopes these grants.',
      })),
      {
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'The BucketDeployment helper’s runtime is chosen by aws-cdk-lib and moves with it; it runs only at deploy time.',
      },
    );
  }
}
