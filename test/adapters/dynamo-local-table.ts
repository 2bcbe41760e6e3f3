import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { startDynamoDbLocal, type RunningEmulator } from '../../local/emulators.ts';
import { createTable } from '../../local/stack.ts';

/** A DynamoDB Local of a test file's own, with the product's table: its raw and document clients once `beforeAll` ran. */
export interface DynamoLocalTable {
  readonly endpoint: string;
  readonly raw: DynamoDBClient;
  readonly db: DynamoDBDocumentClient;
}

/**
 * Starts DynamoDB Local before the file's tests and creates `tableName` in it as the local stack does
 * (keys, indexes, TTL); stops it after them. `ready` runs once the table exists (to load a directory,
 * make the adapters under test).
 */
export function dynamoLocalTable(tableName: string, ready: (table: DynamoLocalTable) => Promise<void> | void = () => undefined): () => DynamoLocalTable {
  let emulator: RunningEmulator | undefined;
  let table: DynamoLocalTable | undefined;
  beforeAll(async () => {
    emulator = await startDynamoDbLocal({ port: 0 });
    const raw = new DynamoDBClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await createTable(emulator.endpoint, tableName);
    table = { endpoint: emulator.endpoint, raw, db: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }) };
    await ready(table);
  });
  afterAll(async () => {
    table?.raw.destroy();
    await emulator?.stop();
  });
  return () => {
    if (table === undefined) throw new Error('The DynamoDB Local table is made in beforeAll.');
    return table;
  };
}
