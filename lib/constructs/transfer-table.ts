import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../../lambdas/adapters/table-schema.ts';

/**
 * The single table holding transfers, their history, approval links, customer claims and the
 * partner and customer directory. Its keys come from the schema the adapters use.
 *
 * It holds the only record of partners' written consent, so it is kept when the stack goes:
 * deletion protection, point-in-time recovery and a retained resource.
 *
 * Its stream carries each new item's image: the outbox items written with every change are relayed from it.
 */
export class TransferTable extends Construct {
  /** The table; grant access with {@link grantTableAccess}, not the CDK helpers (they add `/index/*` and unused actions). */
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
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      })),
      // Expired approval links and idempotency records go by themselves.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // The relay reads only the new outbox item; old images would only add to the records' size.
      dynamoStream: dynamodb.StreamViewType.NEW_IMAGE,
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    });
  }
}

/**
 * What the handlers do on the table, as explicit actions (no `Get*`-style wildcards): `GetItem`,
 * `BatchGetItem` and `Query` (lib-dynamodb's Get, BatchGet, Query).
 */
export const TABLE_READ_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'] as const;

/**
 * Writes: Put, Update, Delete, BatchWrite and TransactWrite, whose items need the action of their
 * kind (`ConditionCheckItem` for a condition-check item); Powertools idempotency records use
 * Get/Put/Update/DeleteItem. No Scan, DescribeTable or stream actions: nothing calls them.
 */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
] as const;

/** The only action on an index: the listings query `byParty` / `byPartyStatus`. */
export const INDEX_ACTIONS = ['dynamodb:Query'] as const;

/**
 * What the outbox relay does on the table (lambdas/adapters/dynamo-outbox.ts): `BatchGetItem` to see which
 * events went out already, `UpdateItem` to mark them relayed; and for a closed transfer's retention
 * (lambdas/adapters/dynamo-retention.ts) `Query` to read its partition and `UpdateItem` to stamp each item's
 * expiry. No index, no other write.
 */
export const OUTBOX_RELAY_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'] as const;

/** Lets `grantee` read and mark the outbox items of `table` ({@link OUTBOX_RELAY_ACTIONS}), on the table only. */
export function grantOutboxAccess(table: dynamodb.ITableV2, grantee: iam.IGrantable): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: [...OUTBOX_RELAY_ACTIONS], resourceArns: [table.tableArn] });
}

/**
 * Lets `grantee` read (or read and write) the items of `table`, and query its indexes by name:
 * unlike `grantReadData`, no `<table>/index/*` wildcard and no action nothing calls.
 */
export function grantTableAccess(table: dynamodb.ITableV2, grantee: iam.IGrantable, access: 'read' | 'readWrite'): iam.Grant {
  const actions = access === 'read' ? [...TABLE_READ_ACTIONS] : [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS];
  const items = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
  const indexes = iam.Grant.addToPrincipal({
    grantee,
    actions: [...INDEX_ACTIONS],
    resourceArns: TABLE_INDEXES.map((index) => `${table.tableArn}/index/${index.indexName}`),
  });
  return items.combine(indexes);
}

/**
 * What each part of partner webhooks does on the table (lambdas/adapters/dynamo-webhooks.ts), items only, no
 * index; transactions need no action of their own, only their items' (`PutItem`, `UpdateItem`, `DeleteItem`):
 * - `fanOut` (relay-events): queries the webhooks of an event's parties, puts each delivery unless it exists.
 * - `dispatch` (deliver-webhooks): gets a webhook and a delivery, queries its siblings, updates it under a
 *   condition, puts the failure listed under the webhook's owner, reads (queries) an endpoint's slots and leases
 *   and frees them (updates under a condition).
 * - `manage` (manage-webhooks): queries and gets webhooks and failures, puts and deletes webhooks, puts a test delivery.
 */
export const WEBHOOK_ACTIONS = {
  fanOut: ['dynamodb:PutItem', 'dynamodb:Query'],
  dispatch: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
  manage: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
} as const satisfies Record<string, readonly string[]>;

/**
 * Lets `grantee` do on the items of `table` what its part of partner webhooks needs ({@link WEBHOOK_ACTIONS}):
 * narrower than {@link grantTableAccess}, which adds batch and condition-check writes and the indexes.
 */
export function grantWebhookAccess(table: dynamodb.ITableV2, grantee: iam.IGrantable, part: keyof typeof WEBHOOK_ACTIONS): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: [...WEBHOOK_ACTIONS[part]], resourceArns: [table.tableArn] });
}
