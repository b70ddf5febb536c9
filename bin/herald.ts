#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { heraldPropsFromContext } from '../lib/context.ts';
import { HeraldStack } from '../lib/herald-stack.ts';

/**
 * The CDK app: reads the `herald:*` context (lib/context.ts lists every setting), instantiates
 * the stack. No lookups, so synth works offline.
 */
const app = new App();
new HeraldStack(app, 'Herald', {
  description: 'Herald: signed event notifications (webhooks, EventBridge, third-party APIs)',
  ...heraldPropsFromContext(app.node),
});
app.synth();
