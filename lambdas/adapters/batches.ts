/**
 * Splits items, in order, into batches of at most `maxCount` items and `maxBytes` in all (as
 * `sizeOf` measures them): the shape of every AWS batch call Herald makes (SQS SendMessageBatch,
 * EventBridge PutEvents). An item too large for any batch travels alone, and is refused there.
 */
export function inBatches<T>(items: readonly T[], maxCount: number, maxBytes: number, sizeOf: (item: T) => number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
