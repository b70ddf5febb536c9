/**
 * `npm run bench -- --hot-keys`: issue #21's "no hot key" target measured rather than argued.
 * The bench counts the units every partition of the table and of each index takes
 * (bench/dynamo-units.ts `partitionWrites`, `partitionReads`) while one tenant publishes to 10
 * subscriptions; this module scales those counts to a target rate and sets each partition
 * beside DynamoDB's per-partition limits.
 *
 * The scaling is linear in events: units/s = units counted ÷ events published × events/s.
 * Per-event work (an event, its index copy, a delivery record, a fan-out read) scales so
 * exactly. Work that is per minute, per container or per sweep (sweep windows, the statistics
 * fold list `STATSDUE`, sweep cursors) does not grow with the rate, so scaling it up
 * overestimates it: conservative. So is a finite sample's uneven spread over shards: the
 * hottest of a pattern's shards holds more than its mean share, and is reported as is (the
 * pattern's mean beside it).
 *
 * One kind of work is neither: what a deliver invocation writes at most once whatever its batch (the
 * tenant's statistics delta, `STATSDELTA#<tid>#<shard>`) grows with invocations, and a busy
 * deployment's invocations carry full batches where the local runtime's carry a few deliveries.
 * Such partitions are scaled by invocations instead (perInvocationRate): units counted ÷ deliver
 * invocations counted × the invocations a second the target rate makes at a given batch size.
 */
import type { PartitionTotal } from './dynamo-units.ts';

/** DynamoDB's throughput limit of one partition, of the table or of an index. */
export const PARTITION_LIMITS = { write: 1_000, read: 3_000 } as const;
/** The units the limits are in, per second. */
export const PARTITION_UNITS = { write: 'WU/s', read: 'RRU/s' } as const;

const ID_NAMES: [RegExp, string][] = [
  [/^ten_/, '<tid>'],
  [/^sub_/, '<sid>'],
  [/^dlv_/, '<did>'],
  [/^evt_/, '<eid>'],
];

/**
 * A partition key with its ids replaced by what they name, so the partitions of one layout read
 * alike: `SUBDLV#sub_01J…#7` → `SUBDLV#<sid>#<shard>`. Herald's ids by their prefix (core/ids.ts),
 * a number by `<shard>` (every number in a partition key is a shard), a time by `<time>`, a
 * word or event-type pattern (`order.created`, `order.*`) kept, anything else (a client's event
 * id, a key hash) by `<id>`.
 */
export function partitionPattern(partition: string): string {
  const [word, ...rest] = partition.split('#');
  const named = rest.map((part) => {
    const id = ID_NAMES.find(([prefix]) => prefix.test(part));
    if (id) return id[1];
    if (/^\d+$/.test(part)) return '<shard>';
    if (/^\d{4}-\d\d-\d\dT/.test(part)) return '<time>';
    if (/^[a-z*]+(\.[a-z*]+)*$/.test(part)) return part;
    return '<id>';
  });
  return [word, ...named].join('#');
}

/** Units a partition took while `events` were published, as a rate when `eventsPerSecond` are. */
export const scaledRate = (units: number, events: number, eventsPerSecond: number) => (units * eventsPerSecond) / events;

/** A partition's units a second at the target rate, from what it took in the run. */
export type RateOf = (total: PartitionTotal) => number;

/** Every partition scaled by events (scaledRate). */
export const linearRate =
  (events: number, eventsPerSecond: number): RateOf =>
  (total) =>
    scaledRate(total.units, events, eventsPerSecond);

/**
 * Partitions written once per deliver invocation (`perInvocation`) scaled by invocations:
 * units ÷ `invocations` counted × `invocationsPerSecond` at the target; the rest as `byEvents`.
 */
export const perInvocationRate =
  (byEvents: RateOf, perInvocation: (partition: string) => boolean, invocations: number, invocationsPerSecond: number): RateOf =>
  (total) =>
    perInvocation(total.partition) ? scaledRate(total.units, invocations, invocationsPerSecond) : byEvents(total);

export interface HotPartition {
  where: string;
  partition: string;
  pattern: string;
  perSecond: number;
  limit: number;
  /** perSecond ÷ limit. */
  share: number;
}

/** The `top` partitions taking the most units of `kind` (writes or reads) a second at the target rate. */
export function hottestPartitions(tally: Iterable<PartitionTotal>, kind: PartitionTotal['kind'], rateOf: RateOf, top = 10): HotPartition[] {
  const limit = PARTITION_LIMITS[kind];
  return [...tally]
    .filter((t) => t.kind === kind)
    .map((t) => {
      const perSecond = rateOf(t);
      return { where: t.where, partition: t.partition, pattern: partitionPattern(t.partition), perSecond, limit, share: perSecond / limit };
    })
    .sort((a, b) => b.perSecond - a.perSecond || a.partition.localeCompare(b.partition))
    .slice(0, top);
}

export interface PatternRate {
  where: string;
  pattern: string;
  /** Partitions of the pattern that took units of this kind. */
  partitions: number;
  meanPerSecond: number;
  maxPerSecond: number;
  limit: number;
}

/** Each layout pattern (a table or index and a key pattern): how many partitions, their mean and hottest rate; hottest first. */
export function ratesByPattern(tally: Iterable<PartitionTotal>, kind: PartitionTotal['kind'], rateOf: RateOf): PatternRate[] {
  const groups = new Map<string, PatternRate & { total: number }>();
  for (const t of tally) {
    if (t.kind !== kind) continue;
    const pattern = partitionPattern(t.partition);
    const id = `${t.where} ${pattern}`;
    const perSecond = rateOf(t);
    const group = groups.get(id) ?? { where: t.where, pattern, partitions: 0, meanPerSecond: 0, maxPerSecond: 0, limit: PARTITION_LIMITS[kind], total: 0 };
    group.partitions++;
    group.total += perSecond;
    group.maxPerSecond = Math.max(group.maxPerSecond, perSecond);
    groups.set(id, group);
  }
  return [...groups.values()]
    .map(({ total, ...group }) => ({ ...group, meanPerSecond: total / group.partitions }))
    .sort((a, b) => b.maxPerSecond - a.maxPerSecond || a.pattern.localeCompare(b.pattern));
}

const where = (p: { where: string }) => (p.where === 'table' ? 'table' : `index ${p.where}`);
const rounded = (n: number) => Math.round(n).toLocaleString('en-US');

/** One line: the hottest write and read partitions at the target rate, each beside its limit, and whether both are under. */
export function hotKeyVerdict(tally: Iterable<PartitionTotal>, rateOf: RateOf, eventsPerSecond: number): string {
  const all = [...tally];
  const hottest = (kind: PartitionTotal['kind']) => hottestPartitions(all, kind, rateOf, 1)[0];
  const part = (kind: PartitionTotal['kind']) => {
    const top = hottest(kind);
    if (!top) return `no ${kind} partition counted`;
    return `hottest ${kind} partition ${where(top)} ${top.pattern} at ${rounded(top.perSecond)} ${PARTITION_UNITS[kind]} (limit ${rounded(top.limit)})`;
  };
  const over = (['write', 'read'] as const).some((kind) => (hottest(kind)?.share ?? 0) > 1);
  return `${part('write')}; ${part('read')}: ${over ? 'OVER a partition limit' : 'every partition under its limit'} at ${rounded(eventsPerSecond)} events/s`;
}

/**
 * The smallest mean batch (deliveries per deliver invocation) at which the per-invocation
 * partitions stay under the write limit: the hottest one's units per invocation × the target's
 * deliveries a second ÷ the limit.
 */
export function smallestBatchUnderLimit(tally: Iterable<PartitionTotal>, perInvocation: (partition: string) => boolean, invocations: number, deliveriesPerSecond: number): number | undefined {
  const hottest = Math.max(0, ...[...tally].filter((t) => t.kind === 'write' && perInvocation(t.partition)).map((t) => t.units));
  if (!hottest || !invocations) return undefined;
  return Math.ceil((hottest * deliveriesPerSecond) / (invocations * PARTITION_LIMITS.write));
}
