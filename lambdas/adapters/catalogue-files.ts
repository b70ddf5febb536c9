import { readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Catalogue, type CatalogueEntry } from '#core/catalogue';

/**
 * Loads the catalogue from one or more folders (`catalogue/<type>/v<n>.json`). The stack copies
 * the repository's catalogue/ into the function bundle; the local runtime points at the same
 * folder. HERALD_CATALOGUE_DIR may list several folders (path-delimiter separated).
 */
export function readCatalogueEntries(dir: string): CatalogueEntry[] {
  const entries: CatalogueEntry[] = [];
  for (const type of readdirSync(dir).sort()) {
    const typeDir = join(dir, type);
    if (!statSync(typeDir).isDirectory()) continue;
    for (const file of readdirSync(typeDir).filter((f) => /^v\d+\.json$/.test(f)).sort()) {
      const path = join(typeDir, file);
      let parsed: CatalogueEntry;
      try {
        parsed = JSON.parse(readFileSync(path, 'utf8')) as CatalogueEntry;
      } catch (error) {
        throw new Error(`catalogue file ${path} is not valid JSON: ${(error as Error).message}`);
      }
      if (parsed.type !== type || `v${parsed.version}.json` !== file) {
        throw new Error(`catalogue file ${path} declares ${parsed.type} v${parsed.version}; its path must match`);
      }
      entries.push(parsed);
    }
  }
  return entries;
}

let cached: Catalogue | undefined;

/** `dirs`: the function's HERALD_CATALOGUE_DIR setting (shared/settings.ts), read once per container. */
export function loadCatalogue(dirs: string): Catalogue {
  if (cached) return cached;
  cached = new Catalogue(dirs.split(delimiter).filter(Boolean).flatMap(readCatalogueEntries));
  return cached;
}
