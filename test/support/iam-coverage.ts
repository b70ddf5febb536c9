import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { currentFunction } from '../../local/invocations.ts';

/**
 * What the IAM coverage test needs: every AWS SDK call a Herald function makes (recorded by a
 * middleware on every client, attributed to the function through local/invocations.ts), turned
 * into the IAM requests AWS would authorize, and an evaluator of a synthesized template's
 * identity policies for those requests.
 */

/** One SDK operation a function performed. */
export interface SdkCall {
  functionName: string;
  /** The SDK client, e.g. `DynamoDBClient`. */
  client: string;
  /** The wire operation, e.g. `BatchWriteItem` (a DocumentClient's BatchWrite included). */
  operation: string;
  input: Record<string, any>;
}

const MIDDLEWARE = 'herald-iam-coverage';
const instrumented = new WeakSet<object>();

/**
 * Records every call made through any client of the services Herald uses, from now on. The
 * middleware is added to a client's stack the first time it sends (clients are built lazily,
 * some per tenant session), so the shared clients and the customer-bus sender's own are alike
 * covered. Calls made outside a function invocation (test setup, inspection) are not recorded.
 */
export function recordSdkCalls(onCall: (call: SdkCall) => void): void {
  for (const Client of [DynamoDBClient, DynamoDBDocumentClient, SQSClient, EventBridgeClient, STSClient] as unknown as { prototype: { send: (...args: any[]) => any } }[]) {
    const send = Client.prototype.send;
    if ((send as { [MIDDLEWARE]?: true })[MIDDLEWARE]) continue;
    const patched = function (this: { middlewareStack: { add: (mw: any, opts: any) => void } }, ...args: any[]) {
      // A DocumentClient shares its client's stack: one middleware per stack.
      if (!instrumented.has(this.middlewareStack)) {
        instrumented.add(this.middlewareStack);
        this.middlewareStack.add(
          (next: any, context: any) => async (request: any) => {
            const functionName = currentFunction();
            if (functionName) {
              onCall({ functionName, client: String(context.clientName), operation: String(context.commandName).replace(/Command$/, ''), input: request.input ?? {} });
            }
            return next(request);
          },
          { step: 'initialize', name: MIDDLEWARE },
        );
      }
      return send.apply(this, args);
    };
    Object.assign(patched, { [MIDDLEWARE]: true });
    Client.prototype.send = patched;
  }
}

/** An IAM request: who (a role's logical id), what, on which resource, and why it is needed. */
export interface IamRequest {
  role: string;
  action: string;
  resource: string;
  because: string;
}

/** Where the local runtime's resources are in the stack: local name or URL → ARN in the template's terms. */
export interface ResourceMap {
  table(name: string): string | undefined;
  queue(url: string): string | undefined;
  /** A bus name or ARN; undefined for a bus outside the stack. */
  bus(nameOrArn: string): string | undefined;
  /** The key DynamoDB decrypts the table's data with, if customer-managed. */
  tableKey?: string;
}

const SERVICE_PREFIX: Record<string, string> = { DynamoDBClient: 'dynamodb', SQSClient: 'sqs', EventBridgeClient: 'events', STSClient: 'sts', KMSClient: 'kms' };

/**
 * IAM actions are mostly the operation's name; SQS authorizes its batch calls as the single
 * call (there is no sqs:SendMessageBatch action).
 */
const ACTION_OF: Record<string, string> = {
  'sqs:SendMessageBatch': 'sqs:SendMessage',
  'sqs:DeleteMessageBatch': 'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibilityBatch': 'sqs:ChangeMessageVisibility',
};

export function iamActionOf(client: string, operation: string): string {
  const prefix = SERVICE_PREFIX[client];
  if (!prefix) throw new Error(`no IAM service prefix known for ${client} (operation ${operation}): add it to SERVICE_PREFIX`);
  const action = `${prefix}:${operation}`;
  return ACTION_OF[action] ?? action;
}

/** The tables a DynamoDB call touches, with the index it reads if any. */
function dynamoTargets(input: Record<string, any>): { table: string; index?: string }[] {
  if (input.TableName) return [{ table: input.TableName, index: input.IndexName }];
  if (input.RequestItems) return Object.keys(input.RequestItems).map((table) => ({ table }));
  if (input.TransactItems) {
    return (input.TransactItems as Record<string, { TableName: string }>[]).map((item) => ({ table: Object.values(item)[0]!.TableName }));
  }
  return [];
}

/**
 * The IAM requests one call makes in the deployed stack. `roleOf` gives a function's role;
 * `customerBusRole` is the role the deliver function assumes for a customer's bus (locally it
 * puts with ambient credentials, which is what the recording sees).
 */
export function iamRequestsOf(
  call: SdkCall,
  resources: ResourceMap,
  roleOf: (functionName: string) => string,
  customerBusRole: { id: string; arn: string },
): IamRequest[] {
  const role = roleOf(call.functionName);
  const action = iamActionOf(call.client, call.operation);
  const because = `${call.functionName} called ${call.client.replace(/Client$/, '')} ${call.operation}`;
  const unknown = (what: string) => {
    throw new Error(`${because} on ${what}, which is no resource of the stack (extend the ResourceMap if the stack now holds it)`);
  };
  if (action.startsWith('dynamodb:')) {
    return dynamoTargets(call.input).flatMap(({ table, index }) => {
      const arn = resources.table(table) ?? unknown(`table ${table}`);
      const requests: IamRequest[] = [{ role, action, resource: index ? `${arn}/index/${index}` : arn, because }];
      // A table with a customer-managed key: DynamoDB uses the key on the caller's behalf, with
      // the caller's permissions (kms:ViaService), for every read and write of the table's data.
      if (resources.tableKey) requests.push({ role, action: 'kms:Decrypt', resource: resources.tableKey, because: `${because} (the table's customer-managed key)` });
      return requests;
    });
  }
  if (action.startsWith('sqs:')) {
    const url = call.input.QueueUrl as string;
    return [{ role, action, resource: resources.queue(url) ?? unknown(`queue ${url}`), because }];
  }
  if (action === 'events:PutEvents') {
    return (call.input.Entries as { EventBusName?: string }[]).flatMap((entry) => {
      const name = entry.EventBusName ?? 'default';
      const own = resources.bus(name);
      if (own) return [{ role, action, resource: own, because }];
      if (!name.startsWith('arn:')) unknown(`bus ${name}`);
      // A customer's bus: deployed, the deliver function assumes the customer-bus role (tagging
      // the session with the tenant) and puts as that role.
      return [
        { role, action: 'sts:AssumeRole', resource: customerBusRole.arn, because: `${because} on ${name} (as the customer-bus role)` },
        { role, action: 'sts:TagSession', resource: customerBusRole.arn, because: `${because} on ${name} (session tag herald-tenant)` },
        { role: customerBusRole.id, action, resource: name, because: `${because} on ${name}` },
      ];
    });
  }
  if (action === 'sts:AssumeRole') {
    const requests: IamRequest[] = [{ role, action, resource: call.input.RoleArn, because }];
    if (call.input.Tags?.length) requests.push({ role, action: 'sts:TagSession', resource: call.input.RoleArn, because });
    return requests;
  }
  throw new Error(`${because}: no resource mapping for ${action} (add one to iamRequestsOf)`);
}

// ---- The template side ---------------------------------------------------------------------

type CfnValue = string | number | boolean | { [key: string]: unknown } | unknown[];

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

/** The account, region and partition the template's ARNs are resolved in. */
export const EVALUATION_ENV = { partition: 'aws', region: 'us-east-1', account: '000000000000' } as const;

/**
 * A stand-in ARN for a resource of the template, named by its logical id: policies and recorded
 * calls are both resolved to these, so matching a request against a policy is string matching.
 */
export function arnOf(template: CfnTemplate, logicalId: string): string {
  const { partition: p, region: r, account: a } = EVALUATION_ENV;
  const type = template.Resources[logicalId]?.Type;
  switch (type) {
    case 'AWS::DynamoDB::Table':
      return `arn:${p}:dynamodb:${r}:${a}:table/${logicalId}`;
    case 'AWS::SQS::Queue':
      return `arn:${p}:sqs:${r}:${a}:${logicalId}`;
    case 'AWS::Events::EventBus':
      return `arn:${p}:events:${r}:${a}:event-bus/${logicalId}`;
    case 'AWS::KMS::Key':
      return `arn:${p}:kms:${r}:${a}:key/${logicalId}`;
    case 'AWS::IAM::Role':
      return `arn:${p}:iam::${a}:role/${logicalId}`;
    case 'AWS::Logs::LogGroup':
      return `arn:${p}:logs:${r}:${a}:log-group:${logicalId}:*`;
    case 'AWS::Lambda::Function':
      return `arn:${p}:lambda:${r}:${a}:function:${logicalId}`;
    case undefined:
      throw new Error(`no resource ${logicalId} in the template`);
    default:
      return `arn:${p}:synthetic:${r}:${a}:${type}/${logicalId}`;
  }
}

/** Resolves Ref, Fn::GetAtt (Arn) and Fn::Join over the template; anything else is an error. */
export function resolveValue(template: CfnTemplate, value: CfnValue): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return String(value);
  const ref = (value as { Ref?: string }).Ref;
  if (ref !== undefined) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': EVALUATION_ENV.partition,
      'AWS::Region': EVALUATION_ENV.region,
      'AWS::AccountId': EVALUATION_ENV.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[ref] ?? ref;
  }
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) {
    if (getAtt[1] !== 'Arn') throw new Error(`cannot resolve Fn::GetAtt ${getAtt.join('.')} in a policy`);
    return arnOf(template, getAtt[0]);
  }
  const join = (value as { 'Fn::Join'?: [string, CfnValue[]] })['Fn::Join'];
  if (join) return join[1].map((part) => resolveValue(template, part)).join(join[0]);
  throw new Error(`cannot resolve ${JSON.stringify(value)} in a policy`);
}

interface Statement {
  effect: 'Allow' | 'Deny';
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  /** Where it came from, for messages. */
  source: string;
}

const asList = <T>(value: T | T[] | undefined): T[] | undefined => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);

/** IAM's wildcards: `*` any run of characters, `?` one. Actions compare case-insensitively. */
export function iamMatches(pattern: string, value: string, caseInsensitive = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, caseInsensitive ? 'i' : '').test(value);
}

/** The identity policies attached to a role: its inline Policies and every AWS::IAM::Policy naming it. */
export function statementsOf(template: CfnTemplate, roleId: string): Statement[] {
  const role = template.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  if (role.Properties?.ManagedPolicyArns?.length) throw new Error(`${roleId} has managed policies, which this evaluator cannot read`);
  const documents: { document: any; source: string }[] = (role.Properties?.Policies ?? []).map((p: any) => ({ document: p.PolicyDocument, source: `${roleId} inline ${p.PolicyName}` }));
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as { Ref?: string }[];
    if (roles.some((r) => r.Ref === roleId)) documents.push({ document: resource.Properties!.PolicyDocument, source: id });
  }
  return documents.flatMap(({ document, source }) =>
    (asList(document.Statement) ?? []).map((s: any) => ({
      effect: s.Effect,
      actions: asList(s.Action),
      notActions: asList(s.NotAction),
      resources: asList(s.Resource)?.map((r: CfnValue) => resolveValue(template, r)),
      notResources: asList(s.NotResource)?.map((r: CfnValue) => resolveValue(template, r)),
      source,
    })),
  );
}

function applies(statement: Statement, action: string, resource: string): boolean {
  const actionHit = statement.actions ? statement.actions.some((a) => iamMatches(a, action, true)) : !statement.notActions!.some((a) => iamMatches(a, action, true));
  const resourceHit = statement.resources ? statement.resources.some((r) => iamMatches(r, resource)) : !statement.notResources!.some((r) => iamMatches(r, resource));
  return actionHit && resourceHit;
}

/**
 * IAM's evaluation for one identity: an explicit deny wins, else an allow is needed. Conditions
 * are taken as met (Herald's only conditioned statement is the customer-role variant's external
 * id, which the deliver function always sets). Returns why a request is refused, or undefined.
 */
export function refusal(template: CfnTemplate, request: IamRequest): string | undefined {
  const statements = statementsOf(template, request.role);
  const deny = statements.find((s) => s.effect === 'Deny' && applies(s, request.action, request.resource));
  if (deny) return `${request.role} may not ${request.action} on ${request.resource}: denied by ${deny.source} (${request.because})`;
  if (statements.some((s) => s.effect === 'Allow' && applies(s, request.action, request.resource))) return undefined;
  return `${request.role} may not ${request.action} on ${request.resource}: no statement allows it (${request.because})`;
}

/** Whether `roleId`'s trust policy lets `principalArn` assume it (with session tags when asked). */
export function trusts(template: CfnTemplate, roleId: string, principalArn: string, action: string): boolean {
  const document = template.Resources[roleId]?.Properties?.AssumeRolePolicyDocument;
  return (asList(document?.Statement) ?? []).some((s: any) => {
    if (s.Effect !== 'Allow' || !asList(s.Action)!.some((a: string) => iamMatches(a, action, true))) return false;
    const principals = asList(s.Principal?.AWS) ?? [];
    return principals.some((p: CfnValue) => resolveValue(template, p) === principalArn);
  });
}
