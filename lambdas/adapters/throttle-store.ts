import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AdaptiveRate, ThrottleState, ThrottleStore } from '#core/throttle';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { throttleKey as key, TTL } from './table-keys.ts';

/**
 * A throttled subscription's shared state, one small item: THROTTLE#<tid>#<sid> / STATE with
 *   tat       the rate's next slot (ms, GCRA)
 *   leases    requests in flight: lease id → lapse time (ms)
 *   adaptive  backpressure in force: the lowered rate, when and why (core/throttle.ts)
 *   delayed   deliveries that waited for a slot, all told
 *   version   bumped by every reservation (optimistic concurrency between deliver invocations)
 * Kept for a month after its last reservation (TTL), so a deleted subscription's state goes too.
 */
const KEEP_SECONDS = 30 * 86_400;

export class DynamoThrottleStore implements ThrottleStore {
  constructor(private readonly tableName: string) {}

  async read(tenantId: string, subscriptionId: string): Promise<{ state: ThrottleState; version: number }> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: key(tenantId, subscriptionId), ConsistentRead: true }));
    const item = out.Item;
    if (!item) return { state: {}, version: 0 };
    return {
      state: {
        ...(item.tat !== undefined ? { tat: Number(item.tat) } : {}),
        ...(item.leases ? { leases: item.leases as Record<string, number> } : {}),
        ...(item.adaptive ? { adaptive: item.adaptive as AdaptiveRate } : {}),
        ...(item.delayed !== undefined ? { delayed: Number(item.delayed) } : {}),
      },
      version: Number(item.version ?? 0),
    };
  }

  reserve(
    tenantId: string,
    subscriptionId: string,
    version: number,
    change: { tat?: number; newLeases: Record<string, number>; lapsedLeases: string[]; hasLeases: boolean; adaptive?: AdaptiveRate | null; delayed?: number },
  ): Promise<boolean> {
    const names: Record<string, string> = { '#ttl': TTL };
    const values: Record<string, unknown> = { ':next': version + 1, ':ttl': Math.floor(Date.now() / 1000) + KEEP_SECONDS };
    const sets = ['version = :next', '#ttl = :ttl'];
    const removes: string[] = [];
    if (change.tat !== undefined) {
      sets.push('tat = :tat');
      values[':tat'] = change.tat;
    }
    if (change.adaptive) {
      sets.push('adaptive = :adaptive');
      values[':adaptive'] = change.adaptive;
    } else if (change.adaptive === null) removes.push('adaptive');
    const adds: string[] = [];
    if (change.delayed) {
      adds.push('delayed :delayed');
      values[':delayed'] = change.delayed;
    }
    const added = Object.entries(change.newLeases);
    if (!change.hasLeases) {
      // No map yet: it is created whole (a path into a missing map is refused).
      sets.push('leases = :leases');
      values[':leases'] = change.newLeases;
    } else {
      added.forEach(([id, until], i) => {
        names[`#n${i}`] = id;
        values[`:n${i}`] = until;
        sets.push(`leases.#n${i} = :n${i}`);
      });
      change.lapsedLeases.forEach((id, i) => {
        names[`#l${i}`] = id;
        removes.push(`leases.#l${i}`);
      });
    }
    if (version > 0) values[':version'] = version;
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key(tenantId, subscriptionId),
        UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
        ConditionExpression: version > 0 ? 'version = :version' : 'attribute_not_exists(version)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async release(tenantId: string, subscriptionId: string, leaseIds: string[]): Promise<void> {
    if (leaseIds.length === 0) return;
    const names: Record<string, string> = {};
    leaseIds.forEach((id, i) => (names[`#l${i}`] = id));
    await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key(tenantId, subscriptionId),
        UpdateExpression: `REMOVE ${leaseIds.map((_, i) => `leases.#l${i}`).join(', ')}`,
        // Never creates the item: a release after the state expired has nothing to end.
        ConditionExpression: 'attribute_exists(leases)',
        ExpressionAttributeNames: names,
      }),
    );
  }
}
