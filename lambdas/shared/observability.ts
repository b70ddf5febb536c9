import { Logger } from '@aws-lambda-powertools/logger';

/** One Logger per function container; handlers add correlation ids (tenant, subscription, event, delivery). */
export const logger = new Logger({ serviceName: 'herald' });
