import * as z from 'zod';
import { ID_FORMATS } from './ids.ts';

/** Id fields of API bodies and query strings (the delivery path keeps its own zod/mini schemas). */
/** A tenant id of the wrong shape is answered like an unknown one (404, core/tenant-lookup.ts). */
export const tenantIdField = z.string().min(1).max(128);
export const deliveryIdField = z.string().max(64).regex(ID_FORMATS.delivery, 'is not a delivery id (dlv_ and 56 characters, or 26 for one made by 0.1)');
export const subscriptionIdField = z.string().max(64).regex(ID_FORMATS.subscription, 'is not a subscription id (sub_ and 26 characters)');
