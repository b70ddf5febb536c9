import middy from '@middy/core';
import type { APIGatewayProxyResult, LambdaFunctionURLEvent } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoApiKeyStore } from '#adapters/api-key-store';
import { DynamoSelfTestStore } from '#adapters/self-test-store';
import { authenticate } from '#core/authentication';
import { DomainError } from '#core/errors';
import { RUN_ID, SELF_TEST_BEHAVIOURS, receiveHook, type SelfTestBehaviour } from '#core/self-test';
import { importedSecretProblem } from '#core/signing';
import { settingsFor } from '#shared/settings';
import { json, noContent, problem } from '#shared/http';
import { logger } from '#shared/observability';

const settings = settingsFor('selfTest');
const keys = new DynamoApiKeyStore(settings.tableName);
const runs = new DynamoSelfTestStore(settings.tableName);
const adminKeyHash = settings.adminKeyHash;

/**
 * The optional self-test receiver behind a function URL (lambdas/core/self-test.ts):
 *   POST   /hooks/{run}/{ok|fail-once}   a delivery (public, like any webhook endpoint)
 *   PUT    /runs/{run}  {secret}         register a run (admin key)
 *   GET    /runs/{run}                   what the run received (admin key)
 *   DELETE /runs/{run}                   forget the run (admin key)
 */
export const handler = middy<LambdaFunctionURLEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const method = event.requestContext.http.method;
    const body = event.body === undefined ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const hook = /^\/hooks\/([^/]+)\/([^/]+)$/.exec(event.rawPath);
    if (hook) {
      if (method !== 'POST') return problem(405, 'Method not allowed', 'deliveries are POSTed');
      const [, runId, behaviour] = hook as unknown as [string, string, string];
      if (!RUN_ID.test(runId)) return problem(404, 'Not found', 'no such self-test run');
      if (!SELF_TEST_BEHAVIOURS.includes(behaviour as SelfTestBehaviour)) return problem(404, 'Not found', `behaviour must be one of ${SELF_TEST_BEHAVIOURS.join(', ')}`);
      const answer = await receiveHook(runs, { runId, behaviour: behaviour as SelfTestBehaviour, headers: event.headers, body, now: new Date() });
      if ('detail' in answer) return problem(answer.status, answer.status === 404 ? 'Not found' : 'Too many requests', answer.detail);
      if (!answer.hook.verified) logger.warn('self-test delivery failed signature verification', { runId, webhookId: answer.hook.webhookId, error: answer.hook.verifyError });
      return answer.status === 204 ? noContent() : problem(answer.status, answer.status === 401 ? 'Unauthorized' : 'Failing on purpose', answer.status === 401 ? 'signature did not verify' : 'fail-once: the first arrival of each webhook id fails');
    }
    const run = /^\/runs\/([^/]+)$/.exec(event.rawPath);
    if (!run) return problem(404, 'Not found', 'routes: POST /hooks/{run}/{behaviour}, PUT|GET|DELETE /runs/{run}');
    const runId = run[1]!;
    if (!RUN_ID.test(runId)) return problem(400, 'Bad request', 'a run id is 8 to 64 letters, digits, _ or -', [{ path: 'run', message: 'must match [A-Za-z0-9_-]{8,64}' }]);
    try {
      const principal = await authenticate(keys, adminKeyHash, event.headers.authorization ?? event.headers.Authorization);
      if (principal.role !== 'admin') return problem(403, 'Forbidden', 'the self-test runs need the admin key');
    } catch (error) {
      if (error instanceof DomainError) return problem(error.status, error.title, error.message);
      throw error;
    }
    if (method === 'GET') return json(200, { runId, items: await runs.listHooks(runId) });
    if (method === 'DELETE') {
      await runs.deleteRun(runId);
      return noContent();
    }
    if (method !== 'PUT') return problem(405, 'Method not allowed', 'runs take PUT, GET and DELETE');
    let secret: unknown;
    try {
      secret = (JSON.parse(body) as { secret?: unknown }).secret;
    } catch {
      return problem(400, 'Bad request', 'the body must be JSON: {"secret": "whsec_…"}');
    }
    const why = typeof secret !== 'string' ? 'is required' : !secret.startsWith('whsec_') ? 'must be a whsec_ secret' : importedSecretProblem(secret);
    if (why) return problem(400, 'Invalid request', `secret: ${why}`, [{ path: 'secret', message: why }]);
    await runs.putRun({ runId, secret: secret as string, createdAt: new Date().toISOString() });
    return json(201, { runId });
  });
