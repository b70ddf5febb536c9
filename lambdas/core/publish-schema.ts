import * as z from 'zod';
import { MAX_DATA_BYTES } from './envelope.ts';
import { isValidEventType } from './event-types.ts';
import { documentedAs } from './documented-shape.ts';
import { tenantIdField } from './id-schemas.ts';

/** Any JSON value (what `data` carries before the catalogue checks it against its type). */
export const jsonValue = z
  .union([z.record(z.string(), z.unknown()), z.array(z.unknown()), z.string(), z.number(), z.boolean(), z.null()])
  .meta({ id: 'JsonValue' });

/** The body of `POST /v1/events` (API.md "Publish an event"). */
const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export const publishEventSchema = z
  .object({
    tenantId: tenantIdField,
    type: z.string().refine(isValidEventType, 'must be a dot-separated event type such as order.created'),
    subject: z.string().min(1).max(256),
    data: documentedAs(
      z.unknown().refine((d) => d !== undefined, 'is required').refine(
        (d) => Buffer.byteLength(JSON.stringify(d ?? null)) <= MAX_DATA_BYTES,
        `must serialise to at most ${MAX_DATA_BYTES} bytes`,
      ),
      jsonValue.describe(`The event's payload: valid against its type's schema in the catalogue (GET /v1/event-types), at most ${MAX_DATA_BYTES} bytes as JSON`),
    ),
    id: z.string().regex(EVENT_ID, 'must be 1-128 characters of letters, digits and ._:@-').optional(),
    time: z.iso.datetime({ offset: true }).optional(),
    version: z.number().int().min(1).optional(),
  })
  .strict()
  .meta({ id: 'PublishEvent' });

export type PublishEventInput = z.infer<typeof publishEventSchema>;
