/**
 * `herald:environment`: the CloudEvents extension attribute `environment` on every event Herald
 * builds (platform, operational, test and batch envelopes), kept through the bus and the queue.
 */
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { batchEnvelope } from '../../lambdas/core/batching.ts';
import { buildEnvelope, cloudEventSchema } from '../../lambdas/core/envelope.ts';
import { operationalEvent } from '../../lambdas/core/operational-events.ts';
import { heraldPropsFromContext } from '../../lib/context.ts';

const now = new Date('2026-01-01T00:00:00Z');
const input = { tenantId: 'ten_1', id: 'evt_1', type: 'order.created', subject: 'o-1', data: { a: 1 } };

describe('the environment attribute', () => {
  it('is on the envelope when set, absent otherwise', () => {
    expect(buildEnvelope(input, 'urn:x', now, { environment: 'sandbox' }).environment).toBe('sandbox');
    expect('environment' in buildEnvelope(input, 'urn:x', now)).toBe(false);
    expect(operationalEvent('ten_1', 'subscription.paused', 'sub_1', {}, 'urn:x', now, 'production').environment).toBe('production');
  });

  it('survives the bus schema and the batch envelope', () => {
    const event = buildEnvelope(input, 'urn:x', now, { environment: 'sandbox' });
    expect(cloudEventSchema.parse(JSON.parse(JSON.stringify(event))).environment).toBe('sandbox');
    expect(batchEnvelope('dlv_1', 'sub_1', [event], 'full').environment).toBe('sandbox');
  });

  it('is a CloudEvents-legal extension name (lowercase a-z0-9, at most 20)', () => {
    expect('environment').toMatch(/^[a-z0-9]{1,20}$/);
  });

  it('comes from herald:environment, checked at synth', () => {
    const props = (context: Record<string, unknown>) => heraldPropsFromContext(new App({ context }).node);
    expect(props({ 'herald:environment': 'production' }).environment).toBe('production');
    expect(props({}).environment).toBeUndefined();
    expect(() => props({ 'herald:environment': 'prod env' })).toThrow(/herald:environment/);
  });
});
