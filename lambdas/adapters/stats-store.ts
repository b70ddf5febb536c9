import { randomInt, randomUUID } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StatsStore } from '#core/ports';
import { DEGRADE_AFTER, type ProbeStore } from '#core/degrade';
import {
  addUnfolded,
  blockFolds,
  BlockFolds,
  blockKey,
  deltasByTenant,
  statsWriteFor,
  type BlockFold,
  foldMarker,
  fromCounterFields,
  minuteKey,
  type HealthState,
  type StatsDelta,
  type SubscriptionDelta,
  type StatsIncrement,
} from '#core/stats';
import { dynamo } from './clients.ts';
import { conditionalUpdate, expiresAt } from './dynamo-helpers.ts';
import { queryItems, queryPages } from './table-queries.ts';
import {
  blockOfSortKey,
  parseStatsDueSortKey,
  PK,
  SK,
  STATS_DELTA_SHARDS,
  STATS_DUE_PARTITION,
  STATS_HEALTH_SORT_KEY,
  statsBlockSortKey,
  statsBlocksFrom,
  statsDeltaKey,
  statsDeltaPartition,
  statsDeltasAfter,
  statsDeltasIn,
  statsDueKey,
  statsFoldedKey,
  statsPartition,
  TTL,
  writtenInOfSortKey,
} from './table-keys.ts';

/**
 * Statistics items (key layout in table-keys.ts), per subscription: STATS#<tid>#<sid> with
 *   B#<yyyy-mm-ddThh:m>  a ten-minute block: its counters, the counters of each of its minutes
 *                        (attributes prefixed M<m>_), its last attempt and last success, and a
 *                        marker (F<hh:mm>) for each minute of deltas folded into it (kept 8 days)
 *   HEALTH               the current run of failures and the last error; while the subscription
 *                        is degraded, when its last trial attempt was claimed (probeAt)
 * and per tenant its deltas (STATSDELTA#<tid>#<shard>), its entries on the fold list (STATSDUE)
 * and how far the folds got (STATS#<tid> / FOLDED).
 *
 * A deliver invocation writes one delta per tenant, whatever the number of subscriptions its batch
 * touched (core/stats.ts says why); the sweeper folds a minute's deltas into the blocks a minute
 * after it ends. Counters are flat numeric attributes added with ADD, so concurrent folds never
 * overwrite each other; ten minutes keep a block near 1 KB. The health record is written only
 * when something in it changes (a failure, or the end of a run of failures), which this container
 * remembers per subscription; for the same reason a subscription this container saw with no run
 * of failures less than DEGRADE_AFTER.seconds ago is known not to be degraded without a read (a
 * run must last that long). Reading a week is one key-range query (1,008 small items), the
 * deltas not yet folded (a query per delta shard) and two gets.
 */
const KEPT_DAYS = 8;

export class DynamoStatsStore implements StatsStore, ProbeStore {
  /** Subscriptions this container last saw with no run of failures, and when: a clean batch skips the health write. */
  private readonly healthy = new Map<string, number>();
  /** The tenants whose statistics this container wrote this minute (`<tid>#<minute>`). */
  private readonly written = new Set<string>();
  /** This container's writes of its tenant minutes to the fold list (`<tid>#<minute>`, this minute's only). */
  private readonly listings = new Map<string, Promise<unknown>>();

  constructor(private readonly tableName: string) {}

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
    const writtenIn = minuteKey(now.getTime());
    for (const earlier of this.written) if (!earlier.endsWith(writtenIn)) this.written.delete(earlier);
    await Promise.all(
      [...deltasByTenant(increments)].map(([tenantId, delta]) => {
        const key = `${tenantId}#${writtenIn}`;
        const way = statsWriteFor(Object.keys(delta).length, this.written.has(key));
        this.written.add(key);
        if (way === 'delta') return this.addDelta(tenantId, delta, writtenIn, now);
        return Promise.all(blockFolds([delta]).map((fold) => this.writeBlock(tenantId, fold, now)));
      }),
    );
    return Promise.all(increments.map((increment) => this.updateHealth(statsPartition(increment.tenantId, increment.subscriptionId), increment)));
  }

  /**
   * Adds a fold to its subscription's block. Given the minute of the deltas it folds (`marker`),
   * only once: false when the block already holds them. A batch written straight to its blocks
   * has no marker (it has no delta to count twice).
   */
  private writeBlock(tenantId: string, fold: BlockFold, now: Date, marker?: string): Promise<boolean> {
    const names: Record<string, string> = { '#ttl': TTL, ...(marker ? { '#marker': marker } : {}) };
    const values: Record<string, unknown> = { ':ttl': expiresAt(now, KEPT_DAYS), ...(marker ? { ':true': true } : {}) };
    const adds = Object.entries(fold.fields).map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      return `#f${i} :f${i}`;
    });
    const sets = ['#ttl = :ttl', ...(marker ? ['#marker = :true'] : [])];
    for (const name of ['lastAttemptAt', 'lastSuccessAt'] as const) {
      if (!fold[name]) continue;
      sets.push(`${name} = :${name}`);
      values[`:${name}`] = fold[name];
    }
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: statsPartition(tenantId, fold.subscriptionId), [SK]: statsBlockSortKey(fold.block) },
        UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
        ...(marker ? { ConditionExpression: 'attribute_not_exists(#marker)' } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /**
   * The tenant's delta (1 WU up to 1 KB, about 30 subscriptions deflated), and once per container
   * and minute its entry on the fold list: batches finishing together share the one write.
   */
  private async addDelta(tenantId: string, delta: StatsDelta, writtenIn: string, now: Date): Promise<void> {
    const key = `${tenantId}#${writtenIn}`;
    let listing = this.listings.get(key);
    if (!listing) {
      for (const earlier of this.listings.keys()) if (!earlier.endsWith(writtenIn)) this.listings.delete(earlier);
      listing = dynamo()
        .send(new PutCommand({ TableName: this.tableName, Item: { ...statsDueKey(foldDueAt(writtenIn), tenantId, writtenIn), [TTL]: expiresAt(now, KEPT_DAYS) } }))
        .catch((error: unknown) => {
          this.listings.delete(key);
          throw error;
        });
      this.listings.set(key, listing);
    }
    const item = { ...statsDeltaKey(tenantId, randomInt(STATS_DELTA_SHARDS), writtenIn, randomUUID()), d: deflateRawSync(JSON.stringify(delta)), [TTL]: expiresAt(now, KEPT_DAYS) };
    await Promise.all([dynamo().send(new PutCommand({ TableName: this.tableName, Item: item })), listing]);
  }

  /**
   * Folds every listed tenant minute that is due (the sweeper, each run): its deltas into the
   * subscriptions' blocks (each write conditional on the block not carrying the minute's marker,
   * so a fold repeated after a crash adds nothing twice), then the tenant's `through`, then the
   * entry is deleted. Entries come in due order, so one tenant's minutes fold in order. Answers
   * how many tenant minutes it folded.
   */
  async foldDue(now: Date, deadline = Number.POSITIVE_INFINITY): Promise<number> {
    let folded = 0;
    for (let more = true; more && Date.now() < deadline; ) {
      const due = await queryItems(
        this.tableName,
        {
          KeyConditionExpression: '#pk = :pk AND #sk <= :now',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': STATS_DUE_PARTITION, ':now': `${now.toISOString()}#~` },
        },
        { limit: FOLDS_PER_PAGE, maxPages: 1 },
      );
      more = due.length === FOLDS_PER_PAGE;
      for (const item of due) {
        if (Date.now() >= deadline) return folded;
        const { tenantId, writtenIn } = parseStatsDueSortKey(item[SK]);
        await this.fold(tenantId, writtenIn, now);
        await dynamo().send(new DeleteCommand({ TableName: this.tableName, Key: { [PK]: item[PK], [SK]: item[SK] } }));
        folded++;
      }
    }
    return folded;
  }

  private async fold(tenantId: string, writtenIn: string, now: Date): Promise<void> {
    const folds = new BlockFolds();
    await this.forEachDelta(tenantId, statsDeltasIn(writtenIn), (_, delta) => folds.add(delta));
    const marker = foldMarker(writtenIn);
    await Promise.all(folds.list().map((fold) => this.writeBlock(tenantId, fold, now, marker)));
    await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: statsFoldedKey(tenantId),
        UpdateExpression: 'SET through = :through',
        ConditionExpression: 'attribute_not_exists(through) OR through < :through',
        ExpressionAttributeValues: { ':through': writtenIn },
      }),
    );
  }

  /** A tenant's deltas written in a sort-key range, from its shards side by side (eventually consistent: a delta a moment old may wait for the next read). */
  private async forEachDelta(tenantId: string, range: { from: string; to: string }, visit: (writtenIn: string, delta: StatsDelta) => void): Promise<void> {
    const shards = Array.from({ length: STATS_DELTA_SHARDS }, (_, shard) => shard);
    await Promise.all(
      shards.map(async (shard) => {
        const query = {
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': statsDeltaPartition(tenantId, shard), ':from': range.from, ':to': range.to },
        };
        // Page by page: a busy tenant's minute holds thousands of deltas, never all in memory.
        for await (const page of queryPages(this.tableName, query)) {
          for (const item of page.items) visit(writtenInOfSortKey(item[SK]), JSON.parse(inflateRawSync(item.d as Uint8Array).toString('utf8')) as StatsDelta);
        }
      }),
    );
  }

  /**
   * The blocks from `range.hoursFrom` on and the deltas no block holds yet. `through` is read
   * first: a fold writes its blocks before it moves `through`, so every delta at or before the
   * `through` read is in the blocks read after it, and each later delta counts unless its block
   * carries its minute's marker. The last hour's blocks, which a fold may have just written, are
   * read consistently; older ones, eventually.
   */
  async readStats(tenantId: string, subscriptionId: string, range: { minutesFrom: string; hoursFrom: string }) {
    const pk = statsPartition(tenantId, subscriptionId);
    const folded = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: statsFoldedKey(tenantId) }));
    const through = String(folded.Item?.through ?? '');
    const blocks = statsBlocksFrom(range.hoursFrom);
    const recent = statsBlockSortKey(blockKey(range.minutesFrom));
    const readBlocks = (from: string, to: string, consistent: boolean) =>
      queryItems(this.tableName, {
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to },
        ConsistentRead: consistent,
      });
    const mine: { writtenIn: string; delta: SubscriptionDelta }[] = [];
    const [older, latest, , health] = await Promise.all([
      recent > blocks.from ? readBlocks(blocks.from, recent, false).then((items) => items.filter((item) => String(item[SK]) < recent)) : Promise.resolve([]),
      readBlocks(recent > blocks.from ? recent : blocks.from, blocks.to, true),
      this.forEachDelta(tenantId, statsDeltasAfter(through), (writtenIn, delta) => {
        if (delta[subscriptionId]) mine.push({ writtenIn, delta: delta[subscriptionId] });
      }),
      dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: STATS_HEALTH_SORT_KEY } })),
    ]);
    const buckets: Parameters<typeof addUnfolded>[0] = { minutes: {}, hours: {} };
    const hourFields: Record<string, Record<string, unknown>> = {};
    const markers = new Map<string, Set<string>>();
    for (const item of [...older, ...latest]) {
      const block = blockOfSortKey(item[SK]);
      const hour = (hourFields[block.slice(0, 13)] ??= {});
      const byMinute: Record<string, Record<string, unknown>> = {};
      for (const [name, value] of Object.entries(item)) {
        if (value === true) (markers.get(block) ?? markers.set(block, new Set()).get(block)!).add(name);
        if (typeof value !== 'number') continue;
        const m = /^M(\d)_(.+)$/.exec(name);
        if (m) (byMinute[m[1]!] ??= {})[m[2]!] = value;
        else hour[name] = ((hour[name] as number | undefined) ?? 0) + value;
      }
      for (const [m, fields] of Object.entries(byMinute)) {
        const minute = `${block}${m}`;
        if (minute >= range.minutesFrom) buckets.minutes[minute] = fromCounterFields(fields);
      }
      for (const name of ['lastAttemptAt', 'lastSuccessAt'] as const) {
        const at = item[name];
        if (typeof at === 'string' && (!buckets[name] || at > buckets[name]!)) buckets[name] = at;
      }
    }
    for (const [hour, fields] of Object.entries(hourFields)) buckets.hours[hour] = fromCounterFields(fields);
    addUnfolded(buckets, mine, (block, marker) => markers.get(block)?.has(marker) ?? false, range);
    const state: HealthState = {
      ...toHealth(health.Item),
      ...(buckets.lastAttemptAt ? { lastAttemptAt: buckets.lastAttemptAt } : {}),
      ...(buckets.lastSuccessAt ? { lastSuccessAt: buckets.lastSuccessAt } : {}),
    };
    return { minutes: buckets.minutes, hours: buckets.hours, health: state };
  }
}

/** When the sweeper folds the deltas written in a minute: a minute after it ends (deltas carry their writer's clock). */
const STATS_FOLD_AFTER_MS = 60_000;
const foldDueAt = (writtenIn: string) => new Date(Date.parse(`${writtenIn}:00Z`) + 60_000 + STATS_FOLD_AFTER_MS).toISOString();
const FOLDS_PER_PAGE = 100;

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
