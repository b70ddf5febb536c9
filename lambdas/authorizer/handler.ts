import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoApiKeyStore } from '#adapters/api-key-store';
import { authenticate } from '#core/authentication';
import { DomainError } from '#core/errors';
import { settingsFor } from '#shared/settings';
import { logger } from '#shared/observability';

const settings = settingsFor('authorizer');
const keys = new DynamoApiKeyStore(settings.tableName);
const adminKeyHash = settings.adminKeyHash;

/** Whole-API resource: results are cached per key, so one answer must cover every route. */
function apiWideArn(methodArn: string): string {
  const [arn, stage] = methodArn.split('/');
  return `${arn}/${stage}/*/*`;
}

/**
 * REST API request authorizer. An unknown key throws `Unauthorized` (API Gateway answers 401);
 * a known key gets an Allow policy with its role and tenant as context for the api function.
 */
export const handler = middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const header = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
    try {
      const principal = await authenticate(keys, adminKeyHash, header);
      return {
        principalId: principal.tenantId ?? 'admin',
        policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: apiWideArn(event.methodArn) }] },
        context: {
          role: principal.role,
          ...(principal.tenantId ? { tenantId: principal.tenantId } : {}),
          ...(principal.keyPrefix ? { keyPrefix: principal.keyPrefix } : {}),
          // This answer is cached for 5 minutes: the session's end goes along, for the api function to check.
          ...(principal.portal ? { portal: true, readOnly: principal.readOnly === true, expiresAt: principal.expiresAt! } : {}),
        },
      };
    } catch (error) {
      if (error instanceof DomainError && error.status === 401) throw new Error('Unauthorized');
      throw error;
    }
  });
