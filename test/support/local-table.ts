import { ensureTable, startDynamo } from '../../local/emulators.ts';

/**
 * A dynalite with Herald's table `name`, and the AWS SDK of this process pointed at it (the
 * adapters' clients read the endpoint when first built, so call this before importing them).
 */
export async function startLocalTable(name: string): Promise<Awaited<ReturnType<typeof startDynamo>>> {
  const dynamo = await startDynamo();
  await ensureTable(dynamo.endpoint, name);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  return dynamo;
}
