import * as z from 'zod';
import { isValidEventType } from './event-types.ts';

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
  data?: unknown;
}

export const cloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.string(),
  type: z.string(),
  time: z.string(),
  subject: z.string(),
  datacontenttype: z.literal('application/json'),
  tenantid: z.string(),
  dataschema: z.string().optional(),
  dataref: z.string().optional(),
  data: z.unknown().optional(),
});

const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
/** EventBridge entries are capped at 256 KB; leave room for the envelope around `data`. */
export const MAX_DATA_BYTES = 200 * 1024;

export const publishEventSchema = z
  .object({
    tenantId: z.string().min(1),
    type: z.string().refine(isValidEventType, 'must be a dot-separated event type such as order.created'),
    subject: z.string().min(1).max(256),
    data: z.unknown().refine((d) => d !== undefined, 'is required').refine(
      (d) => Buffer.byteLength(JSON.stringify(d ?? null)) <= MAX_DATA_BYTES,
      `must serialise to at most ${MAX_DATA_BYTES} bytes`,
    ),
    id: z.string().regex(EVENT_ID, 'must be 1-128 characters of letters, digits and ._:@-').optional(),
    time: z.iso.datetime({ offset: true }).optional(),
    version: z.number().int().min(1).optional(),
  })
  .strict();

export type PublishEventInput = z.infer<typeof publishEventSchema>;

export function buildEnvelope(
  input: Omit<PublishEventInput, 'version'> & { id: string },
  source: string,
  now: Date,
  extensions: Pick<CloudEvent, 'dataschema' | 'dataref'> = {},
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
