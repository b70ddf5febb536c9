import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMA } from '../../lib/herald-config.ts';
import type { StatsStore } from '#core/ports';
import { fromCounterFields, toCounterFields, type Counters, type HealthState, type StatsIncrement } from '#core/stats';
import { dynamo } from './clients.ts';

/**
 * Statistics items, one partition per subscription: STATS#<tid>#<sid> with
 *   M#<yyyy-mm-ddThh:mm>  counters for one minute (kept 2 h)
 *   H#<yyyy-mm-ddThh>     counters for one hour (kept 8 days)
 *   HEALTH                last attempt, last success, last error, the current run of failures
 * Counters are flat numeric attributes added with ADD, so concurrent batches never overwrite
 * each other; reading a week is two key-range queries and one get.
 */
const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_SCHEMA;
const MINUTE_TTL_SECONDS = 2 * 3600;
const HOUR_TTL_SECONDS = 8 * 86_400;

export class DynamoStatsStore implements StatsStore {
  constructor(private readonly tableName: string) {}

  private partition(tenantId: string, subscriptionId: string) {
    return `STATS#${tenantId}#${subscriptionId}`;
  }

  private async addCounters(pk: string, sk: string, counters: Counters, expiresAt: number): Promise<void> {
    const fields = toCounterFields(counters);
    const names: Record<string, string> = { '#ttl': TTL };
    const values: Record<string, unknown> = { ':ttl': expiresAt };
    const adds = Object.entries(fields).map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      return `#f${i} :f${i}`;
    });
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: pk, [SK]: sk },
        UpdateExpression: `SET #ttl = :ttl${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  private async updateHealth(pk: string, increment: StatsIncrement): Promise<HealthState> {
    const { health } = increment;
    const sets: string[] = [];
    const removes: string[] = [];
    const adds: string[] = [];
    const values: Record<string, unknown> = {};
    if (health.lastAttemptAt) {
      sets.push('lastAttemptAt = :lastAttemptAt');
      values[':lastAttemptAt'] = health.lastAttemptAt;
    }
    if (health.lastSuccessAt) {
      sets.push('lastSuccessAt = :lastSuccessAt');
      values[':lastSuccessAt'] = health.lastSuccessAt;
    }
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
      return toHealth(out.Item);
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
    return toHealth(out.Attributes);
  }

  async addStats(increments: StatsIncrement[], now: Date): Promise<HealthState[]> {
    const seconds = Math.floor(now.getTime() / 1000);
    return Promise.all(
      increments.map(async (increment) => {
        const pk = this.partition(increment.tenantId, increment.subscriptionId);
        await Promise.all([
          ...Object.entries(increment.minutes).map(([minute, c]) => this.addCounters(pk, `M#${minute}`, c, seconds + MINUTE_TTL_SECONDS)),
          ...Object.entries(increment.hours).map(([hour, c]) => this.addCounters(pk, `H#${hour}`, c, seconds + HOUR_TTL_SECONDS)),
        ]);
        return this.updateHealth(pk, increment);
      }),
    );
  }

  async readStats(tenantId: string, subscriptionId: string, range: { minutesFrom: string; hoursFrom: string }) {
    const pk = this.partition(tenantId, subscriptionId);
    const query = async (from: string, prefix: string): Promise<Record<string, Counters>> => {
      const buckets: Record<string, Counters> = {};
      let start: Record<string, unknown> | undefined;
      do {
        const out = await dynamo().send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
            ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
            ExpressionAttributeValues: { ':pk': pk, ':from': `${prefix}${from}`, ':to': `${prefix}~` },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) buckets[String(item[SK]).slice(prefix.length)] = fromCounterFields(item);
        start = out.LastEvaluatedKey;
      } while (start);
      return buckets;
    };
    const [minutes, hours, health] = await Promise.all([
      query(range.minutesFrom, 'M#'),
      query(range.hoursFrom, 'H#'),
      dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: 'HEALTH' } })),
    ]);
    return { minutes, hours, ...(health.Item ? { health: toHealth(health.Item) } : {}) };
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
