import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoTransferStore } from '../../lambdas/adapters/dynamo-transfer-store.ts';
import { consentRecord, type ChainVerdict } from '../../lambdas/domain/consent-record.ts';
import { DEFAULT_POLICY } from '../../lambdas/domain/policy.ts';
import { LOCAL_REGION } from '../lambda-context.ts';

/** What `npm run transfers -- verify ID` found: the lines to print, and whether the record holds. */
export interface Verification {
  ok: boolean;
  lines: string[];
  fingerprint?: string;
}

function chainLine(id: string, chain: ChainVerdict): string {
  const count = (n: number) => `${n} event${n === 1 ? '' : 's'}`;
  switch (chain.state) {
    case 'intact':
      return `${id}: history intact, ${count(chain.events)} in an unbroken hash chain (head ${chain.head}).`;
    case 'partly-chained':
      return `${id}: history partly chained: ${count(chain.unchained)} recorded before history was chained (not checkable), then an intact chain of ${count(chain.events - chain.unchained)} (head ${chain.head}).`;
    case 'unchained':
      return `${id}: history unchained: its ${count(chain.events)} were recorded before history was chained, so there is nothing to check.`;
    case 'broken': {
      const where = chain.at.seq === null ? 'the chain' : `event #${chain.at.seq}${chain.at.type ? ` (${chain.at.type}${chain.at.at ? `, ${chain.at.at}` : ''})` : ''}`;
      return `${id}: history BROKEN at ${where}: ${chain.problem}.`;
    }
  }
}

/**
 * Reads a transfer's own items straight from the table (not through the API, whose answers it checks)
 * and checks its history chain, and its record's fingerprint against `expected` when given.
 */
export async function verifyTransfer(store: DynamoTransferStore, id: string, expected?: string): Promise<Verification> {
  const read = async () => {
    const state = await store.getState(id);
    return state ? consentRecord(state, { now: new Date(), timeZone: DEFAULT_POLICY.timeZone }) : undefined;
  };
  let record = await read();
  // A read during a write may see an event without the head it moves: a broken chain is read again before it is reported.
  if (record?.chain.state === 'broken') record = await new Promise((resolve) => setTimeout(resolve, 500)).then(read);
  if (!record) return { ok: false, lines: [`${id}: no such transfer in the table.`] };
  const lines = [chainLine(id, record.chain), `Consent record fingerprint: ${record.fingerprint}`];
  let ok = record.chain.state !== 'broken';
  if (expected !== undefined) {
    const matches = expected.trim().toLowerCase() === record.fingerprint;
    if (!matches) ok = false;
    lines.push(matches ? 'The fingerprint matches the one given.' : `The fingerprint given (${expected.trim()}) does NOT match: the record changed since that copy was made, or the copy is not of this transfer.`);
  }
  return { ok, lines, fingerprint: record.fingerprint };
}

/** The table as the CLI reads it: the local stack's DynamoDB Local, or (with `aws`) the table TABLE_NAME names through the default credentials. */
export interface TableAccess {
  db: DynamoDBDocumentClient;
  tableName: string;
  /** The local endpoint; undefined on AWS. */
  endpoint: string | undefined;
  /** The table and where it is, for messages. */
  where: string;
  close: () => void;
}

export function tableAccess(options: { aws: boolean }): TableAccess {
  const tableName = process.env.TABLE_NAME ?? 'customer-transfers';
  const endpoint = options.aws ? undefined : (process.env.AWS_ENDPOINT_URL_DYNAMODB || `http://127.0.0.1:${process.env.DYNAMODB_PORT || '8000'}`);
  const client = new DynamoDBClient({
    ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    region: process.env.AWS_REGION ?? LOCAL_REGION,
  });
  return {
    db: DynamoDBDocumentClient.from(client),
    tableName,
    endpoint,
    where: `${tableName}${endpoint ? ` at ${endpoint}` : ''}`,
    close: () => client.destroy(),
  };
}

/** A transfer store on the table {@link tableAccess} reaches. */
export function tableStore(options: { aws: boolean }): { store: DynamoTransferStore; where: string; close: () => void } {
  const { db, tableName, where, close } = tableAccess(options);
  return { store: new DynamoTransferStore(db, tableName), where, close };
}
