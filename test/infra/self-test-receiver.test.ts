/**
 * The optional self-test receiver (`herald:selfTestReceiver`): absent unless the context turns it
 * on; when on, a function behind a public function URL with the table and the admin key hash in
 * its environment, the table grant only, its URL as a stack output, and cdk-nag still passes.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { heraldPropsFromContext } from '../../lib/context.ts';
import { ENV } from '../../lambdas/shared/herald-config.ts';
import { HeraldStack } from '../../lib/herald-stack.ts';

function synth(context: Record<string, unknown>, id: string) {
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new HeraldStack(app, id, heraldPropsFromContext(app.node));
  return { app, stack, template: Template.fromStack(stack) };
}

let off: ReturnType<typeof synth>;
let on: ReturnType<typeof synth>;
// In the hook (60 s): the first synthesis of a process is slow on a busy machine.
beforeAll(() => {
  off = synth({}, 'NoSelfTest');
  on = synth({ 'herald:selfTestReceiver': 'true' }, 'SelfTest');
});

describe('self-test receiver', () => {
  it('is not deployed unless herald:selfTestReceiver is set', () => {
    const { stack, template } = off;
    expect(stack.selfTestReceiver).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::Url', 0);
    expect(Object.keys(template.findOutputs('*')).some((name) => name.startsWith('SelfTestReceiver'))).toBe(false);
  });

  it('is a function behind a public function URL, with its URL as an output, when set', () => {
    const { stack, template } = on;
    expect(stack.selfTestReceiver).toBeDefined();
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    const fnId = stack.getLogicalId(stack.selfTestReceiver!.handler.function.node.defaultChild as never);
    const fn = template.toJSON().Resources[fnId];
    expect(fn.Properties.Environment.Variables[ENV.tableName]).toEqual({ Ref: expect.stringMatching(/^StorageTable/) });
    expect(fn.Properties.Environment.Variables[ENV.adminKeyHash]).toEqual({ Ref: 'AdminKeyHash' });
    expect(Object.keys(template.findOutputs('*')).some((name) => name.startsWith('SelfTestReceiver'))).toBe(true);
    // It reaches only the table (and its key): no queue, bus or role grants.
    const roleId = stack.getLogicalId(stack.selfTestReceiver!.handler.role.node.defaultChild as never);
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
    expect(actions.every((a) => /^(dynamodb|kms|logs|xray):/.test(a))).toBe(true);
  });

  it('passes the AwsSolutions checks', () => {
    const { app } = synth({ 'herald:selfTestReceiver': true }, 'NagSelfTest');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
