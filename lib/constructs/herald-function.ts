import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, FUNCTIONS } from '../../lambdas/shared/herald-config.ts';

/** The repository root: entries, the lock file and the catalogue are resolved against it. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type FunctionName = keyof typeof FUNCTIONS;

/** The context key the stack sets to its tracing mode, read here for the bundle. */
export const TRACING_CONTEXT = 'herald:tracing';
export type EnvValues = Partial<Record<keyof typeof ENV, string>>;

export interface HeraldFunctionProps {
  /** Which Herald function: its entry and the environment it needs come from FUNCTIONS. */
  readonly name: FunctionName;
  /** Values for the function's environment variables; every variable it needs must be given. */
  readonly env: EnvValues;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default none (the account's unreserved pool) */
  readonly reservedConcurrency?: number;
  /** Extra files to copy next to the bundle (paths relative to the repo root). @default none */
  readonly assets?: string[];
  /**
   * Worker-thread entries (plain ESM, paths relative to the repo root) bundled by the same local
   * esbuild, each next to index.mjs under its own file name: the function starts them with
   * `new URL('./<name>.mjs', import.meta.url)`, which finds them beside the source module too.
   * @default none
   */
  readonly workers?: string[];
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * esbuild aliases for a function's bundle. With tracing off (`herald:tracing=off`, which the
 * stack puts in its context) the Powertools tracer and its middleware become no-ops
 * (lambdas/shared/tracer-off/), so the X-Ray SDK is neither bundled nor loaded at init.
 */
export function bundleAliases(tracing: 'sampled' | 'full' | 'off'): Record<string, string> {
  return tracing === 'off' ? { '@aws-lambda-powertools/tracer': join(REPO_ROOT, 'lambdas/shared/tracer-off') } : {};
}

/**
 * Every Herald Lambda with the same defaults: Node.js 22 on arm64, minified ESM bundled by the
 * local esbuild (no Docker), source maps, X-Ray tracing, JSON logs in a log group with a
 * retention, and exactly the environment its entry in FUNCTIONS declares.
 */
export class HeraldFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HeraldFunctionProps) {
    super(scope, id);
    const spec = FUNCTIONS[props.name];
    const environment: Record<string, string> = { NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: 'herald' };
    for (const key of spec.env as readonly (keyof typeof ENV)[]) {
      const value = props.env[key];
      if (value === undefined) throw new Error(`HeraldFunction ${props.name}: environment value for ${ENV[key]} is missing`);
      environment[ENV[key]] = value;
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Its own role, writing only to its own log group: no AWS-managed policy with logs:* on *.
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(this.role);
    const assets = props.assets ?? [];
    const workers = props.workers ?? [];
    const commandHooks: ICommandHooks = {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir, outputDir) => [
        ...assets.map((asset) => `cp -R "${join(inputDir, asset)}" "${join(outputDir, asset)}"`),
        ...workers.map(
          (worker) =>
            `"${join(inputDir, 'node_modules', '.bin', 'esbuild')}" "${join(inputDir, worker)}" --bundle --platform=node --format=esm --target=node22 ` +
            `--main-fields=module,main --minify --log-level=warning --outfile="${join(outputDir, basename(worker))}"`,
        ),
      ],
    };
    this.function = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, spec.entry),
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      role: this.role,
      // nodejs22.x: the bundles target node22, the local runtime and its tests run the same major,
      // and Lambda supports it until Node 22's end of life (April 2027). nodejs24.x is the next
      // step, taken as a tested change of its own (bundle target, local runtime) before then.
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 256,
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      // The platform's START/END/REPORT lines cost log ingestion on every invocation; its warnings
      // and errors (timeouts, crashes) are kept.
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      logGroup: this.logGroup,
      environment,
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        target: 'node22',
        mainFields: ['module', 'main'],
        // Some dependencies still call require(); give ESM bundles one.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        externalModules: [],
        esbuildArgs: Object.fromEntries(Object.entries(bundleAliases(this.node.tryGetContext(TRACING_CONTEXT) ?? 'sampled')).map(([from, to]) => [`--alias:${from}`, to])),
        commandHooks,
      },
    });
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'Herald targets the nodejs22.x runtime (the product brief pins it and the local runtime is tested against it); moving runtimes is a deliberate, tested change.',
      },
    );
  }

  /**
   * Records why a table grant's wildcards are acceptable: `index/*` covers the table's own GSIs
   * (queried by key), and `kms:GenerateDataKey*` / `kms:ReEncrypt*` are scoped to the table's key.
   */
  acknowledgeTableGrant(table: dynamodb.ITable, key?: kms.IKey): void {
    const stack = Stack.of(this);
    const tableId = stack.getLogicalId(table.node.defaultChild as dynamodb.CfnTable);
    const acks = [
      { id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${tableId}.Arn>/index/*]`, reason: `Access to the Herald table's own GSIs, which the function queries by key.` },
    ];
    if (key) {
      for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
        acks.push({ id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`, reason: `${action} as granted by DynamoDB for the table's own customer-managed key only.` });
      }
    }
    Validations.of(this).acknowledge(...acks);
  }
}
