import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach } from 'vitest';

/** Client settings for SDK clients whose commands are mocked: a fixed region and dummy credentials, so nothing reaches AWS. */
export const MOCKED_CLIENT_CONFIG = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

/** A DynamoDB document client built like the adapters' own, for use with a mocked DynamoDBDocumentClient. */
export function mockedDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(MOCKED_CLIENT_CONFIG));
}

/** The error a promise rejects with; fails the test if it resolves instead. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

/** Resets the given aws-sdk-client-mock mocks after every test of the calling file. */
export function resetAfterEach(...mocks: readonly { reset(): unknown }[]): void {
  afterEach(() => {
    for (const mock of mocks) mock.reset();
  });
}
