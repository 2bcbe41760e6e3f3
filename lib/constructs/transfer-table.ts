import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../lambdas/adapters/table-schema.ts';

/**
 * The single table holding transfers, their history, approval links, customer claims and the
 * partner and customer directory. Its keys come from the schema the adapters use.
 *
 * It holds the only record of partners' written consent, so it is kept when the stack goes:
 * deletion protection, point-in-time recovery and a retained resource.
 */
export class TransferTable extends Construct {
  /** The table; grant access with `grantReadData` / `grantReadWriteData`. */
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const key = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: key(TABLE_KEYS.partitionKey),
      sortKey: key(TABLE_KEYS.sortKey),
      globalSecondaryIndexes: TABLE_INDEXES.map((index) => ({
        indexName: index.indexName,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      })),
      // Expired approval links and idempotency records go by themselves.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    });
  }
}
