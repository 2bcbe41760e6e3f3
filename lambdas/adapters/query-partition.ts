import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { asTransient } from './transient.ts';

/**
 * Every item of one partition, all pages, read consistently: all of them, those whose sort key starts
 * with a prefix (a string), or those whose sort key sorts after a value (`{ after }`).
 */
export async function queryPartition(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  range?: string | { after: string },
): Promise<Record<string, unknown>[]> {
  const condition =
    range === undefined
      ? { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } }
      : typeof range === 'string'
        ? { KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)', ExpressionAttributeValues: { ':pk': pk, ':prefix': range } }
        : { KeyConditionExpression: 'pk = :pk AND sk > :after', ExpressionAttributeValues: { ':pk': pk, ':after': range.after } };
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await asTransient(() =>
      db.send(new QueryCommand({ TableName: tableName, ...condition, ConsistentRead: true, ExclusiveStartKey: startKey })),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
