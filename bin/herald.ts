#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { parseEnterpriseTargets } from '../lib/enterprise-targets.ts';
import { HeraldStack } from '../lib/herald-stack.ts';

/** The CDK app: reads context, instantiates the stack. No lookups, so synth works offline. */
const app = new App();
const flag = (value: unknown) => value === true || value === 'true';
/** A list from cdk.json, or a comma-separated string from `-c key=a,b`. */
const list = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' && value ? value.split(',').map((v) => v.trim()) : undefined;
/** An object from cdk.json, or JSON from `-c key='{"a":1}'`. */
const objectContext = (value: unknown): Record<string, number> | undefined =>
  typeof value === 'string' && value ? JSON.parse(value) : value && typeof value === 'object' ? (value as Record<string, number>) : undefined;
/** A positive number from context (cdk.json or `-c key=N`), or undefined when unset. */
const positive = (key: string, integer = false): number | undefined => {
  const raw = app.node.tryGetContext(key);
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${key} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return value;
};
const termination = app.node.tryGetContext('herald:terminationProtection');
new HeraldStack(app, 'Herald', {
  description: 'Herald: signed event notifications (webhooks, EventBridge, third-party APIs)',
  allowPrivateTargets: flag(app.node.tryGetContext('herald:allowPrivateTargets')),
  alarmEmail: app.node.tryGetContext('herald:alarmEmail') || undefined,
  customerBusAccounts: list(app.node.tryGetContext('herald:customerBusAccounts')),
  enterpriseTargets: parseEnterpriseTargets(app.node.tryGetContext('herald:enterpriseTargets')),
  destinationPorts: list(app.node.tryGetContext('herald:destinationPorts'))?.join(','),
  tenantQuotas: objectContext(app.node.tryGetContext('herald:tenantQuotas')),
  // The API stage's throttle, shared by every caller: requests/s and burst. @default 100 / 200
  apiRateLimit: positive('herald:apiRateLimit'),
  apiBurstLimit: positive('herald:apiBurstLimit', true),
  // On unless set to false: deleting the stack must be a deliberate, two-step act.
  terminationProtection: termination === undefined ? true : flag(termination),
  // @default herald-<stack name>-customer-bus-<region>
  customerBusRoleName: app.node.tryGetContext('herald:customerBusRoleName') || undefined,
  ...(app.node.tryGetContext('herald:deliveryBatchWindowSeconds') !== undefined
    ? { deliveryBatchWindowSeconds: Number(app.node.tryGetContext('herald:deliveryBatchWindowSeconds')) }
    : {}),
});
app.synth();
