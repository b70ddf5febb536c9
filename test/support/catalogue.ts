import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The catalogue's example `data` for a type: valid by construction, so tests publish real events. */
export function exampleOf(type: string, version = 1): Record<string, unknown> {
  const file = fileURLToPath(new URL(`../../catalogue/${type}/v${version}.json`, import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8')).example;
}
