import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMA } from '../../lib/herald-config.ts';
import type { StatsStore } from '#core/ports';
import { fromCounterFields, toCounterFields, type Counters, type HealthState, type StatsIncrement } from '#core/stats';
import { dynamo } from './clients.ts';

/**
 * Statistics items, one partition per subscription: STATS#<tid>#<sid> with
 *   H#<yyyy-mm-ddThh>  the hour's counters, the counters of each of its minutes (attributes
 *                      prefixed M<mm>_), and the hour's last attempt and last success (kept 8 days)
 *   HEALTH             the current run of failures and the last error
 * Counters are flat numeric attributes added with ADD, so concurrent batches never overwrite
 * each other. A batch costs one write per subscription and hour it touches; the health record is
 * written only when something in it changes (a failure, or the end of a run of failures), which
 * this container remembers per subscription. Reading a week is one key-range query and one get.
 */
const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_SCHEMA;
const HOUR_TTL_SECONDS = 8 * 86_400;

export class DynamoStatsStore implements StatsStore {
  /** Subscriptions this container last saw with no run of failures: a clean batch skips the health write. */
  private readonly healthy = new Set<string>();

  constructor(private readonly tableName: string) {}

  private partition(tenantId: string, subscriptionId: string) {
    return `STATS#${tenantId}#${subscriptionId}`;
  }

  private async addHour(pk: string, hour: string, increment: StatsIncrement, expiresAt: number): Promise<void> {
    const fields: Record<string, number> = { ...toCounterFields(increment.hours[hour]!) };
    for (const [minute, counters] of Object.entries(increment.minutes)) {
      if (!minute.startsWith(hour)) continue;
      for (const [field, value] of Object.entries(toCounterFields(counters))) fields[`M${minute.slice(-2)}_${field}`] = value;
    }
    const names: Record<string, string> = { '#ttl': TTL };
    const values: Record<string, unknown> = { ':ttl': expiresAt };
    const adds = Object.entries(fields).map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      return `#f${i} :f${i}`;
    });
    const sets = ['#ttl = :ttl'];
    // Within one batch's hour, the latest times; across batches the read takes the newest hour's.
    const { lastAttemptAt, lastSuccessAt } = increment.health;
    if (lastAttemptAt?.startsWith(hour)) {
      sets.push('lastAttemptAt = :lastAttemptAt');
      values[':lastAttemptAt'] = lastAttemptAt;
    }
    if (lastSuccessAt?.startsWith(hour)) {
      sets.push('lastSuccessAt = :lastSuccessAt');
      values[':lastSuccessAt'] = lastSuccessAt;
    }
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: pk, [SK]: `H#${hour}` },
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
      const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: 'HEALTH' } }));
      return this.remember(pk, toHealth(out.Item));
    }
    const out = await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: pk, [SK]: 'HEALTH' },
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
    if (state.consecutiveFailures === 0) this.healthy.add(pk);
    else this.healthy.delete(pk);
    return state;
  }

  async addStats(increments: StatsIncrement[], now: Date): Promise<HealthState[]> {
    const expiresAt = Math.floor(now.getTime() / 1000) + HOUR_TTL_SECONDS;
    return Promise.all(
      increments.map(async (increment) => {
        const pk = this.partition(increment.tenantId, increment.subscriptionId);
        await Promise.all(Object.keys(increment.hours).map((hour) => this.addHour(pk, hour, increment, expiresAt)));
        return this.updateHealth(pk, increment);
      }),
    );
  }

  async readStats(tenantId: string, subscriptionId: string, range: { minutesFrom: string; hoursFrom: string }) {
    const pk = this.partition(tenantId, subscriptionId);
    const hours: Record<string, Counters> = {};
    const minutes: Record<string, Counters> = {};
    let lastAttemptAt: string | undefined;
    let lastSuccessAt: string | undefined;
    const readHours = async () => {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await dynamo().send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
            ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
            ExpressionAttributeValues: { ':pk': pk, ':from': `H#${range.hoursFrom}`, ':to': 'H#~' },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) {
          const hour = String(item[SK]).slice(2);
          hours[hour] = fromCounterFields(item);
          const byMinute: Record<string, Record<string, unknown>> = {};
          for (const [name, value] of Object.entries(item)) {
            const m = /^M(\d\d)_(.+)$/.exec(name);
            if (m) (byMinute[m[1]!] ??= {})[m[2]!] = value;
          }
          for (const [mm, fields] of Object.entries(byMinute)) {
            const minute = `${hour}:${mm}`;
            if (minute >= range.minutesFrom) minutes[minute] = fromCounterFields(fields);
          }
          if (typeof item.lastAttemptAt === 'string' && (!lastAttemptAt || item.lastAttemptAt > lastAttemptAt)) lastAttemptAt = item.lastAttemptAt;
          if (typeof item.lastSuccessAt === 'string' && (!lastSuccessAt || item.lastSuccessAt > lastSuccessAt)) lastSuccessAt = item.lastSuccessAt;
        }
        start = out.LastEvaluatedKey;
      } while (start);
    };
    const [, health] = await Promise.all([readHours(), dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: 'HEALTH' } }))]);
    const state: HealthState = {
      ...toHealth(health.Item),
      ...(lastAttemptAt ? { lastAttemptAt } : {}),
      ...(lastSuccessAt ? { lastSuccessAt } : {}),
    };
    return { minutes, hours, health: state };
  }
}

function toHealth(item: Record<string, unknown> | undefined): HealthState {
  return {
    consecutiveFailures: typeof item?.consecutiveFailures === 'number' ? item.consecutiveFailures : 0,
    ...(typeof item?.failingSince === 'string' ? { failingSince: item.failingSince } : {}),
    ...(typeof item?.lastAttemptAt === 'string' ? { lastAttemptAt: item.lastAttemptAt } : {}),
    ...(typeof item?.lastSuccessAt === 'string' ? { lastSuccessAt: item.lastSuccessAt } : {}),
    ...(item?.lastError ? { lastError: item.lastError as HealthState['lastError'] } : {}),
  };
}
