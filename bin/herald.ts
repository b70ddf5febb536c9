#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { HeraldStack } from '../lib/herald-stack.ts';

/** The CDK app: reads context, instantiates the stack. No lookups, so synth works offline. */
const app = new App();
const flag = (value: unknown) => value === true || value === 'true';
new HeraldStack(app, 'Herald', {
  description: 'Herald: signed event notifications (webhooks, EventBridge, third-party APIs)',
  allowPrivateTargets: flag(app.node.tryGetContext('herald:allowPrivateTargets')),
  alarmEmail: app.node.tryGetContext('herald:alarmEmail') || undefined,
});
app.synth();
