import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { distance } from 'fastest-levenshtein';
import type { FieldError } from './errors.ts';
import { isValidEventType, normaliseTypePattern, patternKeysFor } from './event-types.ts';
export { dataSchemaUri, expandLinkTemplate, versionFromDataSchema } from './envelope.ts';

/**
 * The event catalogue: every event type the platform publishes, each version with a JSON Schema
 * for `data`, a description and an example. It is data (catalogue/<type>/v<n>.json), so an
 * operator adds types without code; schemas are compiled once per container.
 */
export interface CatalogueEntry {
  type: string;
  version: number;
  description: string;
  origin?: string;
  schema: Record<string, unknown>;
  example: unknown;
  /** Optional link template for thin payloads, e.g. https://api.example.com/orders/{subject}. */
  linkTemplate?: string;
  /** The record type a batched notification names (GAINS `DataType`), e.g. purchase_order. */
  batchDataType?: string;
}

export interface CatalogueListing {
  type: string;
  description: string;
  origin?: string;
  versions: { version: number; schema: Record<string, unknown>; example: unknown }[];
}

function formatAjvPath(error: ErrorObject): string {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  return segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : `${acc}.${s}`), 'data');
}

export class Catalogue {
  private readonly byType = new Map<string, Map<number, CatalogueEntry & { validate: () => ValidateFunction }>>();

  /**
   * Names and versions are checked here; each schema is compiled the first time an event of its
   * type is validated (compiling the whole catalogue up front took most of the api function's
   * cold start). The catalogue unit test compiles every shipped schema by validating its example.
   */
  constructor(entries: CatalogueEntry[]) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats.default(ajv);
    for (const entry of entries) {
      if (!isValidEventType(entry.type)) throw new Error(`catalogue: '${entry.type}' is not a valid event type name`);
      if (!Number.isInteger(entry.version) || entry.version < 1) throw new Error(`catalogue: ${entry.type} has an invalid version ${entry.version}`);
      const versions = this.byType.get(entry.type) ?? new Map();
      if (versions.has(entry.version)) throw new Error(`catalogue: ${entry.type} v${entry.version} is defined twice`);
      let compiled: ValidateFunction | undefined;
      versions.set(entry.version, { ...entry, validate: () => (compiled ??= ajv.compile(entry.schema)) });
      this.byType.set(entry.type, versions);
    }
  }

  get size(): number {
    return this.byType.size;
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  latestVersion(type: string): number | undefined {
    const versions = this.byType.get(type);
    return versions ? Math.max(...versions.keys()) : undefined;
  }

  entry(type: string, version: number): CatalogueEntry | undefined {
    return this.byType.get(type)?.get(version);
  }

  /** Every violation of the type's schema, with paths from `data`; unknown types and versions too. */
  validate(type: string, data: unknown, version?: number): FieldError[] {
    const versions = this.byType.get(type);
    if (!versions) {
      const close = this.suggestionsFor(type);
      return [{ path: 'type', message: `unknown event type '${type}'${close.length ? `; did you mean ${close.join(', ')}?` : ''}` }];
    }
    const chosen = versions.get(version ?? this.latestVersion(type)!);
    if (!chosen) return [{ path: 'version', message: `${type} has versions ${[...versions.keys()].join(', ')}` }];
    const validate = chosen.validate();
    if (validate(data)) return [];
    return (validate.errors ?? []).map((error) => ({ path: formatAjvPath(error), message: error.message ?? 'is invalid' }));
  }

  /** Close names for a mistyped type: small edit distance, or the same family. */
  suggestionsFor(type: string, max = 5): string[] {
    const family = type.split('.')[0];
    return [...this.byType.keys()]
      .map((known) => ({ known, score: distance(known, type) - (known.split('.')[0] === family ? 2 : 0) }))
      .filter(({ score }) => score <= Math.max(3, Math.floor(type.length / 4)))
      .sort((a, b) => a.score - b.score || a.known.localeCompare(b.known))
      .slice(0, max)
      .map(({ known }) => known);
  }

  /** A subscription pattern must select at least one catalogued type. */
  patternProblem(pattern: string): string | undefined {
    const normalised = normaliseTypePattern(pattern);
    if (!normalised) return `'${pattern}' is not an event type, 'prefix.*', 'prefix.all' or '*'`;
    if (normalised === '*') return undefined;
    if (!normalised.endsWith('.*')) {
      if (this.has(normalised)) return undefined;
      const close = this.suggestionsFor(normalised);
      return `unknown event type '${pattern}'${close.length ? `; did you mean ${close.join(', ')}?` : ''}`;
    }
    for (const type of this.byType.keys()) if (patternKeysFor(type).includes(normalised)) return undefined;
    return `'${pattern}' selects no event type in the catalogue`;
  }

  list(): CatalogueListing[] {
    return [...this.byType.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([type, versions]) => {
        const ordered = [...versions.values()].sort((a, b) => a.version - b.version);
        const latest = ordered[ordered.length - 1]!;
        return {
          type,
          description: latest.description,
          ...(latest.origin ? { origin: latest.origin } : {}),
          versions: ordered.map((v) => ({ version: v.version, schema: v.schema, example: v.example })),
        };
      });
  }
}
