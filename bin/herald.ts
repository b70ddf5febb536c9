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
new HeraldStack(app, 'Herald', {
  description: 'Herald: signed event notifications (webhooks, EventBridge, third-party APIs)',
  allowPrivateTargets: flag(app.node.tryGetContext('herald:allowPrivateTargets')),
  alarmEmail: app.node.tryGetContext('herald:alarmEmail') || undefined,
  customerBusAccounts: list(app.node.tryGetContext('herald:customerBusAccounts')),
  enterpriseTargets: parseEnterpriseTargets(app.node.tryGetContext('herald:enterpriseTargets')),
  destinationPorts: list(app.node.tryGetContext('herald:destinationPorts'))?.join(','),
  tenantQuotas: objectContext(app.node.tryGetContext('herald:tenantQuotas')),
  operatorAccountTenants: list(app.node.tryGetContext('herald:operatorAccountTenants')),
  reservedSources: list(app.node.tryGetContext('herald:reservedSources')),
  customerRoleName: app.node.tryGetContext('herald:customerRoleName') || undefined,
  ...(app.node.tryGetContext('herald:deliveryBatchWindowSeconds') !== undefined
    ? { deliveryBatchWindowSeconds: Number(app.node.tryGetContext('herald:deliveryBatchWindowSeconds')) }
    : {}),
});
app.synth();
