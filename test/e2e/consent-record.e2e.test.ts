/**
 * The consent record of a transfer through the real route (HTML and PDF), and `npm run transfers --
 * verify` against the table in DynamoDB Local: intact, altered behind the product's back, and a
 * transfer whose history predates the chain.
 */
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PDFParse } from 'pdf-parse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { createTransfer, daysAfter, documentClient, getTransfer, poll, todayInNewYork } from './support.ts';

const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

let t: TestStack;
let db: DynamoDBDocumentClient;
let completed: TransferView;
let acme: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run transfers -- verify …` as an operator runs it, pointed at this test's DynamoDB Local and table. */
function verify(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/transfers-cli.ts', 'verify', ...args],
      {
        cwd: repoRoot,
        env: { ...withoutEndpoint(process.env), DYNAMODB_PORT: new URL(t.stack.urls.dynamodb).port, TABLE_NAME: t.stack.tableName },
        timeout: 60_000,
      },
      (error, stdout, stderr) => resolve({ code: error && typeof error.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr }),
    );
  });
}

/** The environment without an SDK endpoint of its own, so that DYNAMODB_PORT names the table's DynamoDB Local. */
function withoutEndpoint(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { AWS_ENDPOINT_URL_DYNAMODB: _endpoint, ...rest } = env;
  return rest;
}

/** The stored event items of a transfer, straight from the table, in sort-key order. */
async function eventItems(transferId: string): Promise<Record<string, unknown>[]> {
  const result = await db.send(
    new QueryCommand({
      TableName: t.stack.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :events)',
      ExpressionAttributeValues: { ':pk': `TRANSFER#${transferId}`, ':events': 'EVENT#' },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

async function record(id: string, token: string, accept?: string): Promise<Response> {
  return fetch(`${t.stack.urls.api}/transfers/${id}/record`, {
    headers: { authorization: `Bearer ${token}`, ...(accept ? { accept } : {}) },
  });
}

/** A transfer taken through release (portal API) and acceptance (portal API) to COMPLETED. */
async function completedTransfer(customerId: string): Promise<TransferView> {
  const blue = await t.token({ partnerId: 'P-BLUE', subject: 'bob@bluewave.example' });
  const created = await createTransfer(t, acme, { customerIds: [customerId], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 3) });
  const released = await t.client.call('POST', `/transfers/${created.id}/release`, acme, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' });
  expect(released.status, JSON.stringify(released.body)).toBe(200);
  const accepted = await t.client.call('POST', `/transfers/${created.id}/acceptance`, blue, { decision: 'accept', signedBy: 'Bob Wave' });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  await t.client.waitForStatus(created.id, acme, ['COMPLETED'], 30_000);
  // The record is read once the workflow has written its last event: the confirmations.
  return poll('the confirmations', async () => {
    const transfer = await getTransfer(t, created.id, acme);
    return transfer.history.some((e) => e.type === 'CONFIRMATIONS_SENT') ? transfer : undefined;
  });
}

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  db = documentClient(t.stack);
  acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  completed = await completedTransfer('C-A30');
});

afterAll(async () => {
  db?.destroy();
  await t?.stop();
});

describe('the consent record', () => {
  it('is a printable page with both signed statements, every event and the fingerprint verify prints', async () => {
    const answer = await record(completed.id, acme);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await answer.text();
    const fingerprint = answer.headers.get('x-record-fingerprint') ?? '';
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(html).toContain(fingerprint);
    expect(html).toContain('Alice Smith');
    expect(html).toContain('Bob Wave');
    expect(html).toContain(completed.id);

    const run = await verify(completed.id);
    expect(run.code, run.stderr).toBe(0);
    const events = (await getTransfer(t, completed.id, acme)).history.length;
    expect(run.stdout).toContain(`${completed.id}: history intact, ${events} events in an unbroken hash chain`);
    expect(run.stdout).toContain(`Consent record fingerprint: ${fingerprint}`);
    const matching = await verify(completed.id, '--fingerprint', fingerprint);
    expect(matching.code, matching.stderr).toBe(0);
    expect(matching.stdout).toContain('The fingerprint matches the one given.');
  });

  it('comes as a PDF with Accept: application/pdf, whose text holds the statements and the fingerprint', async () => {
    const answer = await record(completed.id, acme, 'application/pdf');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/pdf');
    const bytes = new Uint8Array(await answer.arrayBuffer());
    expect(Buffer.from(bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
    const parser = new PDFParse({ data: bytes });
    try {
      const text = (await parser.getText()).text.replace(/\s+/g, ' ');
      const fingerprint = answer.headers.get('x-record-fingerprint') ?? '';
      expect(text.replace(/ /g, '')).toContain(fingerprint);
      for (const event of completed.history.filter((e) => typeof e.detail.statement === 'string')) {
        // The statement as signed, whatever the line breaks of the page.
        expect(text.replace(/ /g, '')).toContain(String(event.detail.statement).replace(/\s+/g, ''));
      }
    } finally {
      await parser.destroy();
    }
  });

  it('is shown to the parties and operators only: another partner gets 404', async () => {
    const coral = await t.token({ partnerId: 'P-CORAL' });
    expect((await record(completed.id, coral)).status).toBe(404);
    expect((await record(completed.id, await t.token('operator'))).status).toBe(200);
    expect((await record('TR-20260101-NOSUCHTRANS', acme)).status).toBe(404);
  });
});

describe('npm run transfers -- verify', () => {
  it('names the event altered directly in DynamoDB Local, and the record says so', async () => {
    const transfer = await completedTransfer('C-A31');
    expect((await verify(transfer.id)).code).toBe(0);
    const before = (await record(transfer.id, acme)).headers.get('x-record-fingerprint') ?? '';

    // Someone with table access rewrites who signed the release.
    const released = (await eventItems(transfer.id)).find((item) => item.type === 'RELEASED');
    expect(released?.seq).toEqual(expect.any(Number));
    await db.send(
      new UpdateCommand({
        TableName: t.stack.tableName,
        Key: { pk: released?.pk, sk: released?.sk },
        UpdateExpression: 'SET detail.signedBy = :who',
        ExpressionAttributeValues: { ':who': 'Mallory' },
      }),
    );

    const run = await verify(transfer.id);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${transfer.id}: history BROKEN at event #${String(released?.seq)} (RELEASED, ${String(released?.at)})`);
    expect(run.stderr).toContain('altered after it was written');
    const stale = await verify(transfer.id, '--fingerprint', before);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('does NOT match');

    const page = await (await record(transfer.id, acme)).text();
    expect(page).toMatch(/broken/i);
  });

  it('says a transfer recorded before history was chained is unchained, not broken', async () => {
    const transfer = await completedTransfer('C-A32');
    // As it was stored before: no head on the transfer item, no chain fields on the events.
    await db.send(
      new UpdateCommand({ TableName: t.stack.tableName, Key: { pk: `TRANSFER#${transfer.id}`, sk: 'TRANSFER' }, UpdateExpression: 'REMOVE chainSeq, chainHash' }),
    );
    for (const item of await eventItems(transfer.id)) {
      await db.send(new UpdateCommand({ TableName: t.stack.tableName, Key: { pk: item.pk, sk: item.sk }, UpdateExpression: 'REMOVE seq, prevHash, #hash', ExpressionAttributeNames: { '#hash': 'hash' } }));
    }
    const run = await verify(transfer.id);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`${transfer.id}: history unchained`);
    expect((await getTransfer(t, transfer.id, acme)).history.every((e) => !('hash' in e))).toBe(true);
  });

  it('refuses a malformed id or fingerprint with its usage, and an unknown transfer with exit 1', async () => {
    const bad = await verify('not an id');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage: npm run transfers');
    const badPrint = await verify(completed.id, '--fingerprint', 'abc');
    expect(badPrint.code).toBe(2);
    expect(badPrint.stderr).toContain('--fingerprint must be the 64 hex digits');
    const unknown = await verify('TR-20260101-NOSUCHTRANS');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no such transfer');
  });
});
