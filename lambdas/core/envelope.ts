import * as z from 'zod/mini';
import type { PublishEventInput } from './publish-schema.ts';

/**
 * The CloudEvents 1.0 envelope Herald sends (API.md "Webhook request") and carries internally
 * on the bus and in delivery jobs.
 */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  tenantid: string;
  /** URI of the schema `data` follows: names the event type's version. */
  dataschema?: string;
  /** Where a thin payload's entity can be fetched, when the operator configured a link. */
  dataref?: string;
  /**
   * Extension attribute: the Herald stack's environment (`herald:environment`, e.g. `production`
   * or `sandbox`), on every event Herald builds when the operator set one.
   */
  environment?: string;
  data?: unknown;
}

/**
 * The envelope as it arrives from the bus (fan-out checks it). zod/mini: the functions on the
 * delivery path carry only the small tree-shakable core of zod.
 */
export const cloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.string(),
  type: z.string(),
  time: z.string(),
  subject: z.string(),
  datacontenttype: z.literal('application/json'),
  tenantid: z.string(),
  dataschema: z.optional(z.string()),
  dataref: z.optional(z.string()),
  environment: z.optional(z.string()),
  data: z.optional(z.unknown()),
});

/** EventBridge entries are capped at 256 KB; leave room for the envelope around `data`. */
export const MAX_DATA_BYTES = 200 * 1024;


export function buildEnvelope(
  input: Omit<PublishEventInput, 'version'> & { id: string },
  source: string,
  now: Date,
  extensions: Pick<CloudEvent, 'dataschema' | 'dataref' | 'environment'> = {},
): CloudEvent {
  return {
    specversion: '1.0',
    id: input.id,
    source,
    type: input.type,
    time: input.time ?? now.toISOString(),
    subject: input.subject,
    datacontenttype: 'application/json',
    tenantid: input.tenantId,
    ...(extensions.dataschema ? { dataschema: extensions.dataschema } : {}),
    ...(extensions.dataref ? { dataref: extensions.dataref } : {}),
    ...(extensions.environment ? { environment: extensions.environment } : {}),
    data: input.data,
  };
}

/** The body a subscriber receives: `thin` payloads say what happened, not the data. */
export function payloadFor(event: CloudEvent, mode: 'full' | 'thin'): CloudEvent {
  if (mode === 'full') return event;
  const { data: _data, ...thin } = event;
  return thin;
}

/** A URI naming the schema an event's data follows (CloudEvents `dataschema`). */
export function dataSchemaUri(type: string, version: number): string {
  return `urn:herald:event-types:${type}:v${version}`;
}

export function versionFromDataSchema(uri: string | undefined): number | undefined {
  const match = /:v(\d+)$/.exec(uri ?? '');
  return match ? Number(match[1]) : undefined;
}

export function expandLinkTemplate(template: string, fields: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in fields ? encodeURIComponent(fields[name]!) : whole));
}
