/**
 * How the deliver function acts on a customer's bus (lambdas/adapters/customer-bus.ts): always as
 * one tenant, through an assumed role whose session names the tenant; with the assume-role
 * variant, the customer's own role in the bus's account, with the tenant's id as external id.
 * STS is a recording fake; the put itself fails fast (no endpoint), which is beside the point here.
 */
import { describe, expect, it } from 'vitest';
import { EventBridgeCustomerBus, roleFor, TENANT_SESSION_TAG } from '../../lambdas/adapters/customer-bus.ts';

const entry = {
  tenantId: 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ',
  eventBusArn: 'arn:aws:events:us-east-1:111122223333:event-bus/orders',
  source: 'herald.tenant.ten_01HZZZZZZZZZZZZZZZZZZZZZZZ',
  detailType: 'order.created',
  detail: '{}',
  time: new Date(),
};

function recordingSts() {
  const calls: Record<string, unknown>[] = [];
  return {
    calls,
    sts: {
      send: async (command: { input: Record<string, unknown> }) => {
        calls.push(command.input);
        return { Credentials: { AccessKeyId: 'AKIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 900_000) } };
      },
    },
  };
}

describe('customer bus access', () => {
  it("assumes Herald's customer-bus role with the tenant as session tag, once per session", async () => {
    const { calls, sts } = recordingSts();
    const bus = new EventBridgeCustomerBus({ mode: 'herald-role', roleArn: 'arn:aws:iam::999988887777:role/Herald-customer-bus-us-east-1' }, sts as never);
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = 'http://127.0.0.1:1';
    await bus.put(entry);
    await bus.put(entry);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      RoleArn: 'arn:aws:iam::999988887777:role/Herald-customer-bus-us-east-1',
      RoleSessionName: `herald-${entry.tenantId}`,
      Tags: [{ Key: TENANT_SESSION_TAG, Value: entry.tenantId }],
    });
    expect(calls[0]).not.toHaveProperty('ExternalId');
    delete process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
  });

  it("assumes the customer's role in the bus's account with the tenant's id as external id", () => {
    expect(roleFor({ mode: 'customer-role', roleName: 'HeraldDelivery' }, entry)).toEqual({
      roleArn: 'arn:aws:iam::111122223333:role/HeraldDelivery',
      externalId: entry.tenantId,
    });
    expect(roleFor({ mode: 'ambient' }, entry)).toBeUndefined();
  });

  it('a refused AssumeRole is a failed attempt, retried like any refusal', async () => {
    const bus = new EventBridgeCustomerBus({ mode: 'customer-role', roleName: 'HeraldDelivery' }, {
      send: async () => {
        throw Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      },
    } as never);
    expect(await bus.put(entry)).toMatchObject({ statusCode: 403, error: 'eventbridge_error', errorMessage: expect.stringContaining('AccessDenied') });
  });
});
