import * as z from 'zod';
import { ID_FORMATS } from './ids.ts';

/** Id fields of API bodies and query strings (the delivery path keeps its own zod/mini schemas). */
export const tenantIdField = z.string().max(64).regex(ID_FORMATS.tenant, 'is not a tenant id (ten_ and 26 characters)');
export const subscriptionIdField = z.string().max(64).regex(ID_FORMATS.subscription, 'is not a subscription id (sub_ and 26 characters)');
