import { Logger } from '@aws-lambda-powertools/logger';

/** One logger for every function. Events are never logged whole: they can carry task tokens and link secrets. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'customer-transfer' });
