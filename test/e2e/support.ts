import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, type ExecutionListItem, type HistoryEvent } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import type { LocalClient, StoredEmail, TransferView } from '../../local/local-client.ts';
import type { LocalStack } from '../../local/stack.ts';
import type { TestStack } from './local-stack.ts';

type Item = Record<string, unknown>;
type HistoryEntry = TransferView['history'][number];

/** Dummy credentials: the local stack accepts any. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** An approval link in an email body. */
export const APPROVAL_LINK = /https?:\/\/[^\s"'<>]+\/approvals\/[A-Za-z0-9_-]+/;

/** A Step Functions client talking to the local stack. */
export function sfnClient(stack: LocalStack): SFNClient {
  return new SFNClient({ endpoint: stack.urls.sfn, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
}

/** A DynamoDB document client talking to the local stack. */
export function documentClient(stack: LocalStack): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }));
}

/** A `poll(what, probe, timeoutMs?, everyMs?)` that retries the probe until it answers, with the given defaults. */
export function poller(defaultTimeoutMs: number, defaultEveryMs: number) {
  return async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = defaultTimeoutMs, everyMs = defaultEveryMs): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise<void>((resolve) => setTimeout(resolve, everyMs));
    }
    throw new Error(`Timed out waiting for ${what}`);
  };
}

/** Polls every 150 ms for up to 15 s unless told otherwise. */
export const poll = poller(15_000, 150);

/** Every item of the table, read consistently, in key order. */
export async function scanTable(db: DynamoDBDocumentClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const keyOf = (item: Item) => `${String(item.pk)}\u0000${String(item.sk)}`;
  return items.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

/**
 * Items as a request leaves them: without the relay's marks, which it writes on its own time, a second or
 * so after the change that wrote the event: on outbox events (`relayedAt`), and on the items of a transfer
 * that closed (the retention expiry, `expiresAtEpoch`; outbox events and deliveries keep their own).
 */
export function withoutRelayMarks(items: Item[]): Item[] {
  return items.map((item) => {
    if (item.kind === 'outbox') {
      const { relayedAt: _relayedAt, ...rest } = item;
      return rest;
    }
    if (String(item.pk).startsWith('TRANSFER#') && item.kind !== 'delivery') {
      const { expiresAtEpoch: _expiresAtEpoch, ...rest } = item;
      return rest;
    }
    return item;
  });
}

/** Every item of a transfer's partition, read consistently. */
export async function transferItems(db: DynamoDBDocumentClient, tableName: string, transferId: string): Promise<Item[]> {
  const page = await db.send(
    new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `TRANSFER#${transferId}` }, ConsistentRead: true }),
  );
  return page.Items ?? [];
}

/** Files a transfer through the API, expecting 201. */
export async function createTransfer(t: TestStack, token: string, body: Record<string, unknown>): Promise<TransferView> {
  const created = await t.client.call('POST', '/transfers', token, body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as TransferView;
}

/** Releases (or declines) as the current partner, or accepts (or declines) as the new one, expecting 200. */
export async function decide(t: TestStack, id: string, step: 'release' | 'acceptance', token: string, body: Record<string, unknown>): Promise<TransferView> {
  const answer = await t.client.call('POST', `/transfers/${id}/${step}`, token, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as TransferView;
}

/** The events of a transfer that goes all the way, in order. */
export const FULL_TRANSFER_EVENTS = ['transfer.requested', 'transfer.released', 'transfer.accepted', 'transfer.scheduled', 'transfer.completed'];

/** Tokens of the two partners most tests move customers between: Acme (the current) and Bluewave (the new). */
export interface AcmeToBlue {
  acme: string;
  blue: string;
}

/** Acme files a transfer of one customer to Bluewave, releases it for today and Bluewave accepts, all through the API; waits until the workflow completes the move. */
export async function fullTransfer(t: TestStack, customerId: string, tokens: AcmeToBlue): Promise<string> {
  const created = await createTransfer(t, tokens.acme, { customerIds: [customerId], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 3) });
  await decide(t, created.id, 'release', tokens.acme, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' });
  await decide(t, created.id, 'acceptance', tokens.blue, { decision: 'accept', signedBy: 'Bob Wave' });
  await t.client.waitForStatus(created.id, tokens.acme, ['COMPLETED'], 30_000);
  return created.id;
}

/**
 * A move that fails: Acme files two customers to Bluewave released for a date ahead, Bluewave accepts,
 * and while the workflow sleeps until the date (the stack's `maxWaitSeconds`, a few seconds) the second
 * customer changes hands behind the transfer's back. Answers the transfer once it has ended.
 */
export async function failedMove(t: TestStack, db: DynamoDBDocumentClient, [kept, lost]: [string, string], tokens: AcmeToBlue): Promise<TransferView> {
  const created = await createTransfer(t, tokens.acme, {
    customerIds: [kept, lost],
    toPartnerId: 'P-BLUE',
    release: { transferDate: daysAfter(todayInNewYork(), 3), signedBy: 'Alice Smith' },
  });
  const accepted = await decide(t, created.id, 'acceptance', tokens.blue, { decision: 'accept', signedBy: 'Bob Wave' });
  expect(accepted.status).toBe('SCHEDULED');
  await db.send(
    new UpdateCommand({
      TableName: t.stack.tableName,
      Key: { pk: `CUSTOMER#${lost}`, sk: 'OWNER' },
      UpdateExpression: 'SET partnerId = :partner',
      ExpressionAttributeValues: { ':partner': 'P-CORAL' },
    }),
  );
  return t.client.waitForStatus(created.id, tokens.acme, ['FAILED', 'COMPLETED'], 30_000);
}

/** Reads a transfer through the API, expecting 200. */
export async function getTransfer(t: TestStack, id: string, token: string): Promise<TransferView> {
  const answer = await t.client.call('GET', `/transfers/${id}`, token);
  expect(answer.status).toBe(200);
  return answer.body as TransferView;
}

/** The partner a customer belongs to, as an operator reads it. */
export async function ownerOf(t: TestStack, customerId: string): Promise<string> {
  const answer = await t.client.call('GET', `/customers/${customerId}`, await t.token('operator'));
  expect(answer.status).toBe(200);
  return (answer.body as { partnerId: string }).partnerId;
}

/** The customer is free again: a new transfer of it can be filed (and is cancelled straight away). */
export async function expectClaimReleased(t: TestStack, customerId: string, token: string, toPartnerId: string): Promise<void> {
  const again = await t.client.call('POST', '/transfers', token, { customerIds: [customerId], toPartnerId });
  expect(again.status, JSON.stringify(again.body)).toBe(201);
  const id = (again.body as TransferView).id;
  expect((await t.client.call('POST', `/transfers/${id}/cancel`, token, { reason: 'test clean-up' })).status).toBe(200);
}

/** Every execution the state machine has started, all pages. */
export async function listExecutions(sfn: SFNClient, stateMachineArn: string, maxResults?: number): Promise<ExecutionListItem[]> {
  const executions: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults, nextToken }));
    executions.push(...(page.executions ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return executions;
}

/** Every execution as "name STATUS", sorted. */
export async function executionStates(sfn: SFNClient, stateMachineArn: string): Promise<string[]> {
  return (await listExecutions(sfn, stateMachineArn)).map((e) => `${e.name ?? ''} ${e.status ?? ''}`).sort();
}

/** The ids of every email the local SES has stored, sorted. */
export async function emailIds(t: TestStack): Promise<string[]> {
  return (await t.client.emails(0)).map((email) => email.messageId).sort();
}

/** The ARN of the execution started for a transfer (executions are named after the transfer id). */
export function executionArn(stack: LocalStack, transferId: string): string {
  return `${stack.stateMachineArn.replace(':stateMachine:', ':execution:')}:${transferId}`;
}

/** The first 1000 history events of an execution. */
export async function executionHistory(sfn: SFNClient, arn: string): Promise<HistoryEvent[]> {
  return (await sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000 }))).events ?? [];
}

/** The approval link emailed (since a time) to a recipient about this very transfer, waited for with the given poll. */
export async function approvalLinkFor(t: TestStack, recipient: string, transferId: string, since: number, wait = poll): Promise<string> {
  return wait(`a link for ${transferId} to ${recipient}`, async () => {
    const emails = await t.client.emails(since);
    const email = emails.find((e) => e.destination.to.includes(recipient) && e.subject.includes(transferId) && APPROVAL_LINK.test(e.body.text ?? ''));
    return email ? APPROVAL_LINK.exec(email.body.text ?? '')?.[0] : undefined;
  });
}

/** Every approval link in an email, text first, then HTML. */
export function linksIn(email: StoredEmail): string[] {
  return [...`${email.body.text ?? ''}\n${email.body.html ?? ''}`.matchAll(new RegExp(APPROVAL_LINK, 'g'))].map((m) => m[0]);
}

/** The link of an approval request about one transfer, for one step, emailed to one recipient, waited for with the given poll. */
export async function stepLinkFor(client: LocalClient, recipient: string, transferId: string, step: 'Release' | 'Acceptance', wait = poll): Promise<string> {
  return wait(`the ${step.toLowerCase()} link of ${transferId} for ${recipient}`, async () => {
    const emails = await client.emails(0);
    const email = emails.find((e) => e.destination.to.includes(recipient) && e.subject.startsWith(`${step} needed`) && e.subject.includes(transferId));
    return email ? linksIn(email)[0] : undefined;
  });
}

/** The history events of a transfer of one type, and of one step if given. */
export function eventsOf(transfer: TransferView, type: string, step?: string): HistoryEntry[] {
  return transfer.history.filter((e) => e.type === type && (step === undefined || e.detail.step === step));
}

/** Emails (since a time) about one transfer whose subject starts with the given words, oldest first. */
export async function emailsAbout(t: TestStack, transferId: string, since: number, subjectStart: string): Promise<StoredEmail[]> {
  return (await t.client.emails(since)).filter((e) => e.subject.startsWith(subjectStart) && e.subject.includes(transferId));
}

/** The approval link in an email's text, expected to be there. */
export function linkIn(email: StoredEmail | undefined): string {
  const link = APPROVAL_LINK.exec(email?.body.text ?? '')?.[0];
  expect(link, 'an approval link in the email').toBeDefined();
  return link ?? '';
}

/** Today's date (YYYY-MM-DD) in New York, the service's time zone. */
export function todayInNewYork(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** The date (YYYY-MM-DD) a number of days after another. */
export function daysAfter(date: string, days: number): string {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + days);
  return next.toISOString().slice(0, 10);
}
