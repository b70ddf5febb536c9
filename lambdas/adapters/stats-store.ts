import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StatsStore } from '#core/ports';
import { DEGRADE_AFTER, type ProbeStore } from '#core/degrade';
import { fromCounterFields, toCounterFields, type Counters, type HealthState, type StatsIncrement } from '#core/stats';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { queryPages } from './table-queries.ts';
import { blockOfSortKey, PK, SK, STATS_HEALTH_SORT_KEY, statsBlockSortKey, statsBlocksFrom, statsPartition, TTL } from './table-keys.ts';

/**
 * Statistics items, one partition per subscription: STATS#<tid>#<sid> with
 *   B#<yyyy-mm-ddThh:m>  a ten-minute block: its counters, the counters of each of its minutes
 *                        (attributes prefixed M<m>_), and its last attempt and last success
 *                        (kept 8 days)
 *   HEALTH               the current run of failures and the last error; while the subscription
 *                        is degraded, when its last trial attempt was claimed (probeAt)
 * Counters are flat numeric attributes added with ADD, so concurrent batches never overwrite
 * each other. A batch costs one write per subscription and block it touches; ten minutes keep a
 * block near or under 1 KB, the size of one write unit (an hour of minutes in one item grew to
 * about 4 KB, and every write pays for the whole item). The health record is written only when
 * something in it changes (a failure, or the end of a run of failures), which this container
 * remembers per subscription; for the same reason a subscription this container saw with no run
 * of failures less than DEGRADE_AFTER.seconds ago is known not to be degraded without a read (a
 * run must last that long). Reading a week is one key-range query (1,008 small items) and one get.
 */
const HOUR_TTL_SECONDS = 8 * 86_400;

export class DynamoStatsStore implements StatsStore, ProbeStore {
  /** Subscriptions this container last saw with no run of failures, and when: a clean batch skips the health write. */
  private readonly healthy = new Map<string, number>();

  constructor(private readonly tableName: string) {}

  private async addBlock(pk: string, block: string, increment: StatsIncrement, expiresAt: number): Promise<void> {
    const fields: Record<string, number> = {};
    for (const [minute, counters] of Object.entries(increment.minutes)) {
      if (blockKey(minute) !== block) continue;
      for (const [field, value] of Object.entries(toCounterFields(counters))) {
        fields[`M${minute.slice(-1)}_${field}`] = value;
        fields[field] = (fields[field] ?? 0) + value;
      }
    }
    const names: Record<string, string> = { '#ttl': TTL };
    const values: Record<string, unknown> = { ':ttl': expiresAt };
    const adds = Object.entries(fields).map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      return `#f${i} :f${i}`;
    });
    const sets = ['#ttl = :ttl'];
    // Within one batch's block, the latest times; across batches the read takes the newest block's.
    const { lastAttemptAt, lastSuccessAt } = increment.health;
    if (lastAttemptAt && blockKey(lastAttemptAt) === block) {
      sets.push('lastAttemptAt = :lastAttemptAt');
      values[':lastAttemptAt'] = lastAttemptAt;
    }
    if (lastSuccessAt && blockKey(lastSuccessAt) === block) {
      sets.push('lastSuccessAt = :lastSuccessAt');
      values[':lastSuccessAt'] = lastSuccessAt;
    }
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: pk, [SK]: statsBlockSortKey(block) },
        UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  private async updateHealth(pk: string, increment: StatsIncrement): Promise<HealthState> {
    const { health } = increment;
    const clean = !health.addFailures && !health.lastError && (!health.reset || health.reset.failures === 0);
    if (clean && this.healthy.has(pk)) return { consecutiveFailures: 0 };
    const sets: string[] = [];
    const removes: string[] = [];
    const adds: string[] = [];
    const values: Record<string, unknown> = {};
    if (health.lastError) {
      sets.push('lastError = :lastError');
      values[':lastError'] = health.lastError;
    }
    if (health.reset) {
      sets.push('consecutiveFailures = :failures');
      values[':failures'] = health.reset.failures;
      if (health.reset.failingSince) {
        sets.push('failingSince = :since');
        values[':since'] = health.reset.failingSince;
      } else removes.push('failingSince');
    } else if (health.addFailures) {
      adds.push('consecutiveFailures :failures');
      sets.push('failingSince = if_not_exists(failingSince, :since)');
      values[':failures'] = health.addFailures.count;
      values[':since'] = health.addFailures.firstAt;
    }
    if (sets.length === 0 && adds.length === 0 && removes.length === 0) {
      const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: STATS_HEALTH_SORT_KEY } }));
      return this.remember(pk, toHealth(out.Item));
    }
    const out = await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: pk, [SK]: STATS_HEALTH_SORT_KEY },
        UpdateExpression: [
          sets.length ? `SET ${sets.join(', ')}` : '',
          adds.length ? `ADD ${adds.join(', ')}` : '',
          removes.length ? `REMOVE ${removes.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join(' '),
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return this.remember(pk, toHealth(out.Attributes));
  }

  private remember(pk: string, state: HealthState): HealthState {
    if (state.consecutiveFailures === 0) this.healthy.set(pk, Date.now());
    else this.healthy.delete(pk);
    return state;
  }

  async readHealth(tenantId: string, subscriptionId: string): Promise<HealthState | undefined> {
    const pk = statsPartition(tenantId, subscriptionId);
    const seenAt = this.healthy.get(pk);
    if (seenAt !== undefined && Date.now() - seenAt < DEGRADE_AFTER.seconds * 1000) return { consecutiveFailures: 0 };
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: STATS_HEALTH_SORT_KEY } }));
    // No record yet: no failure ever, healthy as far as this container knows.
    return this.remember(pk, toHealth(out.Item));
  }

  /** One conditional write on the health record, which it never creates (a subscription with no failures has no probe). */
  claimProbe(tenantId: string, subscriptionId: string, at: string, openedAt: string): Promise<boolean> {
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: statsPartition(tenantId, subscriptionId), [SK]: STATS_HEALTH_SORT_KEY },
        UpdateExpression: 'SET probeAt = :at',
        ConditionExpression: 'attribute_exists(consecutiveFailures) AND (attribute_not_exists(probeAt) OR probeAt <= :opened)',
        ExpressionAttributeValues: { ':at': at, ':opened': openedAt },
      }),
    );
  }

  async addStats(increments: StatsIncrement[], now: Date): Promise<HealthState[]> {
    const expiresAt = Math.floor(now.getTime() / 1000) + HOUR_TTL_SECONDS;
    return Promise.all(
      increments.map(async (increment) => {
        const pk = statsPartition(increment.tenantId, increment.subscriptionId);
        const blocks = new Set(Object.keys(increment.minutes).map(blockKey));
        await Promise.all([...blocks].map((block) => this.addBlock(pk, block, increment, expiresAt)));
        return this.updateHealth(pk, increment);
      }),
    );
  }

  async readStats(tenantId: string, subscriptionId: string, range: { minutesFrom: string; hoursFrom: string }) {
    const pk = statsPartition(tenantId, subscriptionId);
    const hours: Record<string, Counters> = {};
    const minutes: Record<string, Counters> = {};
    let lastAttemptAt: string | undefined;
    let lastSuccessAt: string | undefined;
    const blocks = statsBlocksFrom(range.hoursFrom);
    const readHours = async () => {
      const query = {
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': pk, ':from': blocks.from, ':to': blocks.to },
      };
      for await (const page of queryPages(this.tableName, query)) {
        for (const item of page.items) {
          const block = blockOfSortKey(item[SK]);
          const hour = (hourFields[block.slice(0, 13)] ??= {});
          const byMinute: Record<string, Record<string, unknown>> = {};
          for (const [name, value] of Object.entries(item)) {
            if (typeof value !== 'number') continue;
            const m = /^M(\d)_(.+)$/.exec(name);
            if (m) (byMinute[m[1]!] ??= {})[m[2]!] = value;
            else hour[name] = ((hour[name] as number | undefined) ?? 0) + value;
          }
          for (const [m, fields] of Object.entries(byMinute)) {
            const minute = `${block}${m}`;
            if (minute >= range.minutesFrom) minutes[minute] = fromCounterFields(fields);
          }
          if (typeof item.lastAttemptAt === 'string' && (!lastAttemptAt || item.lastAttemptAt > lastAttemptAt)) lastAttemptAt = item.lastAttemptAt;
          if (typeof item.lastSuccessAt === 'string' && (!lastSuccessAt || item.lastSuccessAt > lastSuccessAt)) lastSuccessAt = item.lastSuccessAt;
        }
      }
    };
    const hourFields: Record<string, Record<string, unknown>> = {};
    const [, health] = await Promise.all([readHours(), dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: STATS_HEALTH_SORT_KEY } }))]);
    for (const [hour, fields] of Object.entries(hourFields)) hours[hour] = fromCounterFields(fields);
    const state: HealthState = {
      ...toHealth(health.Item),
      ...(lastAttemptAt ? { lastAttemptAt } : {}),
      ...(lastSuccessAt ? { lastSuccessAt } : {}),
    };
    return { minutes, hours, health: state };
  }
}

/** The ten-minute block of a minute key or a timestamp: `2026-11-25T08:47` → `2026-11-25T08:4`. */
const blockKey = (minuteOrTime: string) => minuteOrTime.slice(0, 15);

function toHealth(item: Record<string, unknown> | undefined): HealthState {
  return {
    consecutiveFailures: typeof item?.consecutiveFailures === 'number' ? item.consecutiveFailures : 0,
    ...(typeof item?.failingSince === 'string' ? { failingSince: item.failingSince } : {}),
    ...(typeof item?.lastAttemptAt === 'string' ? { lastAttemptAt: item.lastAttemptAt } : {}),
    ...(typeof item?.lastSuccessAt === 'string' ? { lastSuccessAt: item.lastSuccessAt } : {}),
    ...(item?.lastError ? { lastError: item.lastError as HealthState['lastError'] } : {}),
    ...(typeof item?.probeAt === 'string' ? { probeAt: item.probeAt } : {}),
  };
}
