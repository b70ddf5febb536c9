/**
 * An item's size as DynamoDB bills it (write units are 1 KB of item, rounded up), by its
 * documented rules: each attribute's name plus its value; a string its UTF-8 bytes; a number up
 * to 21 bytes (counted here as (digits ÷ 2) + 2, rounded up: never under what DynamoDB counts for
 * the integers and ISO-free numbers Herald stores); a boolean or null 1 byte; a map or list 3
 * bytes plus 1 per element plus its elements. Used to keep an item within one write unit.
 */

/** DynamoDB's write unit: an item up to this many bytes costs 1 WU a write. */
export const WRITE_UNIT_BYTES = 1024;

export function valueBytes(value: unknown): number {
  if (value === undefined) return 0;
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return Math.ceil(String(Math.abs(value)).replace(/[^0-9]/g, '').length / 2) + 2;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, element) => sum + 1 + valueBytes(element), 0);
  if (typeof value === 'object') return 3 + Object.entries(value).reduce((sum, [name, element]) => (element === undefined ? sum : sum + 1 + Buffer.byteLength(name, 'utf8') + valueBytes(element)), 0);
  return Buffer.byteLength(String(value), 'utf8');
}

/** The bytes of a whole item: its attributes' names and values (a top-level item has no map overhead). */
export function itemBytes(item: Record<string, unknown>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) if (value !== undefined) bytes += Buffer.byteLength(name, 'utf8') + valueBytes(value);
  return bytes;
}

/** The longest start of `text` of at most `maxBytes` UTF-8 bytes, never cutting a character in two. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let end = Math.min(text.length, maxBytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end), 'utf8') > maxBytes) end--;
  // Never end on the first half of a surrogate pair.
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
  return text.slice(0, end);
}
