import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach } from 'vitest';
import type { Transfer } from '../../../lambdas/domain/transfer.ts';

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

/** A transfer waiting for its release, North to South, with the given fields changed. */
export function sampleTransfer(overrides: Partial<Transfer> = {}): Transfer {
  const createdAt = overrides.createdAt ?? '2026-03-10T15:00:00.000Z';
  return {
    id: 'TR-20260310-ABCDEFGHJK',
    status: 'AWAITING_RELEASE',
    customers: [{ id: 'C-1', name: 'One', domains: ['one.example'], domainCount: 1, domainsTruncated: false }],
    fromPartner: { id: 'P-NORTH', name: 'Northwind IT' },
    toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
    requestedDate: null,
    transferDate: null,
    immediate: false,
    acceptedDate: null,
    billing: { fromPartnerNextInvoiceDate: '2026-04-01', toPartnerNextInvoiceDate: '2026-03-15', recommendedDate: '2026-04-01', aligned: null, advice: 'x' },
    ticketId: null,
    note: null,
    requestedBy: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice' },
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}
