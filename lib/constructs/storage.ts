import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_INDEXES, TABLE_SCHEMA } from '../../lambdas/shared/herald-config.ts';

export interface StorageProps {
  /** @default RemovalPolicy.RETAIN — the table holds subscriptions, secrets and the attempt log */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single DynamoDB table: on-demand, point-in-time recovery, TTL on `expiresAt` (events and
 * the attempt log expire), encrypted with a customer-managed KMS key (it holds signing secrets).
 */
export class Storage extends Construct {
  public readonly table: dynamodb.Table;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'TableKey', {
      enableKeyRotation: true,
      description: 'Herald table encryption (subscriptions, signing secrets, attempt log)',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const { partitionKey, sortKey, ttlAttribute } = TABLE_SCHEMA;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: ttlAttribute,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      // DeletionPolicy only covers the stack deleting the table; this also refuses DeleteTable
      // from anyone (console, CLI, a replacement). Turn it off by hand before a deliberate delete.
      deletionProtection: true,
    });
    for (const gsi of TABLE_INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: { name: gsi.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: gsi.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType[gsi.projection],
        ...(gsi.projection === 'INCLUDE' ? { nonKeyAttributes: [...gsi.include] } : {}),
      });
    }
  }
}
