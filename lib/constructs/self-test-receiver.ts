import { CfnOutput, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { HeraldFunction } from './herald-function.ts';

export interface SelfTestReceiverProps {
  readonly table: dynamodb.ITable;
  /** The admin key's SHA-256: registering and reading a run needs the admin key. */
  readonly adminKeyHash: string;
}

/**
 * The optional self-test receiver (`herald:selfTestReceiver`): a small function behind a public
 * function URL that verifies Standard Webhooks signatures and records what it got in the table
 * (its own key prefix, a day's TTL), so `herald smoke` can prove the whole delivery path of a
 * deployed stack. Only runs the admin registered are recorded; see lambdas/core/self-test.ts.
 */
export class SelfTestReceiver extends Construct {
  public readonly handler: HeraldFunction;
  public readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: SelfTestReceiverProps) {
    super(scope, id);
    this.handler = new HeraldFunction(this, 'Handler', {
      name: 'selfTest',
      env: { tableName: props.table.tableName, adminKeyHash: props.adminKeyHash },
      timeout: Duration.seconds(10),
    });
    props.table.grantReadWriteData(this.handler.function);
    this.handler.acknowledgeTableGrant(props.table, props.table.encryptionKey);
    // Public like any webhook endpoint: Herald's deliveries carry a signature, not AWS credentials.
    this.url = this.handler.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    new CfnOutput(this, 'Url', { value: this.url.url, description: 'The self-test receiver: herald smoke --receiver <this URL>' });
  }
}
