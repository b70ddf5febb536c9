import type * as z from 'zod';

/**
 * Some boundary schemas take `unknown` and check it in code, to word each mistake against the
 * field that is wrong (a retry policy, a batch's events, a filter, an event's data). This says,
 * as a zod schema, what such a schema accepts, so the OpenAPI document and the typed client
 * generated from it describe the field exactly instead of as "anything".
 */
const shapes = new WeakMap<z.ZodType, z.ZodType>();

export function documentedAs<S extends z.ZodType>(schema: S, shape: z.ZodType): S {
  shapes.set(schema, shape);
  return schema;
}

export function documentedShapeOf(schema: z.ZodType): z.ZodType | undefined {
  return shapes.get(schema);
}
