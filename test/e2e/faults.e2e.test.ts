import { createHash } from 'node:crypto';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DescribeExecutionCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../../local/fault-proxy.ts';
import type { ApiAnswer, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { approvalLinkFor, documentClient, executionArn, executionHistory, ownerOf, poller, scanTable, sfnClient, withoutRelayMarks } from './support.ts';

/**
 * DynamoDB or SES briefly out of reach of the functions (the emulators keep running; a fault proxy in
 * front of each cuts the functions off). A decision sent meanwhile is refused whole with "try again"
 * and writes nothing; the workflow retries an email it could not send; both then go on to completion.
 */

const ACCEPTANCE_WAIT = 'Await acceptance by new partner';

let t: TestStack;
let db: DynamoDBDocumentClient;
let sfn: SFNClient;
let faults: { dynamodb: FaultProxy; ses: FaultProxy };
let acme: string;
let blue: string;

const nowSeconds = () => Date.now() / 1000 - 1;

beforeAll(async () => {
  // Retries of the workflow wait at most 1 s (with full jitter), so the test can see one and end the fault in time.
  t = await startTestStack({ seedFile: TEST_DIRECTORY, faultProxies: true, maxRetryIntervalMs: 1_000 });
  if (!t.stack.faults) throw new Error('The stack started without fault proxies');
  faults = t.stack.faults;
  db = documentClient(t.stack);
  sfn = sfnClient(t.stack);
  acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  blue = await t.token({ partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
});

afterAll(async () => {
  faults?.dynamodb.restore();
  faults?.ses.restore();
  db?.destroy();
  sfn?.destroy();
  await t?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers

const poll = poller(20_000, 100);

async function createTransfer(body: Record<string, unknown>): Promise<TransferView> {
  const created = await t.client.call('POST', '/transfers', blue, body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as TransferView;
}

async function getTransfer(id: string): Promise<TransferView> {
  const answer = await t.client.call('GET', `/transfers/${id}`, blue);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as TransferView;
}

async function stepItem(transferId: string, step: 'release' | 'acceptance'): Promise<Record<string, unknown> | undefined> {
  const result = await db.send(new GetCommand({ TableName: t.stack.tableName, Key: { pk: `TRANSFER#${transferId}`, sk: `STEP#${step}` }, ConsistentRead: true }));
  return result.Item;
}

async function linkItem(link: string): Promise<Record<string, unknown> | undefined> {
  const secret = link.slice(link.lastIndexOf('/') + 1);
  const hash = createHash('sha256').update(secret, 'utf8').digest('hex');
  const result = await db.send(new GetCommand({ TableName: t.stack.tableName, Key: { pk: `LINK#${hash}`, sk: 'LINK' }, ConsistentRead: true }));
  return result.Item;
}

/** The step is waiting: its link has gone out, so the workflow does nothing until a decision. */
async function waitingFor(transferId: string, step: 'release' | 'acceptance'): Promise<void> {
  await poll(`the ${step} link of ${transferId} to be sent`, async () => ((await stepItem(transferId, step))?.linkSentAt ? true : undefined));
}

async function history(transferId: string): Promise<HistoryEvent[]> {
  return executionHistory(sfn, executionArn(t.stack, transferId));
}

async function executionEnded(transferId: string): Promise<string> {
  return poll(`the execution of ${transferId} to end`, async () => {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(t.stack, transferId) }));
    return described.status === 'RUNNING' ? undefined : described.status;
  });
}

/** The attempts of one Task state: failures (by error) and retries, as the execution history tells them. */
function attemptsOf(events: readonly HistoryEvent[], stateName: string): { failed: string[]; retried: number; succeeded: number } {
  let current: string | undefined;
  const result = { failed: [] as string[], retried: 0, succeeded: 0 };
  for (const event of events) {
    const type: string = event.type ?? '';
    if (event.stateEnteredEventDetails?.name !== undefined) current = event.stateEnteredEventDetails.name;
    if (type === 'StateRetried' && event.evaluationFailedEventDetails?.state === stateName) result.retried += 1;
    if (current !== stateName) continue;
    if (type === 'TaskFailed') result.failed.push(event.taskFailedEventDetails?.error ?? '');
    if (type === 'TaskSucceeded') result.succeeded += 1;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------

describe('dependencies briefly out of reach', () => {
  it('refuses a decision whole while DynamoDB is unreachable, and takes the same decision once it is back', async () => {
    const since = nowSeconds();
    // The new partner asks for "immediate", so a release for "immediate" schedules the move at once.
    const viaLink = await createTransfer({ customerIds: ['C-A01'], toPartnerId: 'P-BLUE', requestedDate: 'immediate' });
    const viaApi = await createTransfer({ customerIds: ['C-A02'], toPartnerId: 'P-BLUE', requestedDate: 'immediate' });
    const link = await approvalLinkFor(t, 'billing@acme-it.example', viaLink.id, since, poll);
    await approvalLinkFor(t, 'billing@acme-it.example', viaApi.id, since, poll);
    await waitingFor(viaLink.id, 'release');
    await waitingFor(viaApi.id, 'release');

    const form = { decision: 'release', transferDate: '', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' };
    const body = { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' };
    // Without the relay's marks, which it writes on its own time for earlier changes.
    const tableBefore = withoutRelayMarks(await scanTable(db, t.stack.tableName));
    const emailsBefore = (await t.client.emails(0)).length;

    faults.dynamodb.cut();
    let page: { status: number; html: string };
    let answer: ApiAnswer;
    let opened: Response;
    try {
      page = await t.client.postForm(link, form);
      answer = await t.client.call('POST', `/transfers/${viaApi.id}/release`, acme, body);
      opened = await fetch(link);
    } finally {
      faults.dynamodb.restore();
    }

    // The link's form: a page saying plainly that nothing was recorded and to send it again.
    expect(page.status).toBe(503);
    expect(page.html).toContain('Please try again');
    expect(page.html).toContain('nothing was recorded');
    expect(page.html).not.toContain('Alice Smith');
    // Opening the link meanwhile says the same.
    expect(opened.status).toBe(503);
    expect(opened.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await opened.text()).toContain('nothing was recorded');
    // The API: 503 TRY_AGAIN, with no details.
    expect(answer.status).toBe(503);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.body).toEqual({ error: { code: 'TRY_AGAIN', message: expect.stringMatching(/try again/i) } });

    // Nothing half-written: not an item changed, not an email sent.
    expect(withoutRelayMarks(await scanTable(db, t.stack.tableName))).toEqual(tableBefore);
    expect((await t.client.emails(0)).length).toBe(emailsBefore);
    for (const transfer of [viaLink, viaApi]) {
      const now = await getTransfer(transfer.id);
      expect(now.status).toBe('AWAITING_RELEASE');
      expect(now.history.some((e) => e.type === 'RELEASED')).toBe(false);
      const step = await stepItem(transfer.id, 'release');
      expect(step?.taskToken).toEqual(expect.any(String));
      expect(step?.decision).toBeUndefined();
    }
    expect((await linkItem(link))?.state).toBe('open');
    const stillOpen = await t.client.openLink(link);
    expect(stillOpen.status).toBe(200);
    expect(stillOpen.html).toContain('name="signedBy"');

    // The same form and the same call, sent again, are recorded, and both transfers complete.
    const retriedPage = await t.client.postForm(link, form);
    expect(retriedPage.status).toBe(200);
    expect(retriedPage.html).toContain('Your decision has been recorded');
    const retried = await t.client.call('POST', `/transfers/${viaApi.id}/release`, acme, body);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect((retried.body as TransferView).status).toBe('SCHEDULED');

    for (const [transfer, customerId, via] of [
      [viaLink, 'C-A01', 'link'],
      [viaApi, 'C-A02', 'api'],
    ] as const) {
      const done = await t.client.waitForStatus(transfer.id, blue, ['COMPLETED', 'FAILED'], 20_000);
      expect(done.status).toBe('COMPLETED');
      expect(done.history.filter((e) => e.type === 'RELEASED').map((e) => e.detail.via)).toEqual([via]);
      expect(await ownerOf(t, customerId)).toBe('P-BLUE');
      expect(await executionEnded(transfer.id)).toBe('SUCCEEDED');
    }
  });

  it.each([
    { via: 'api' as const, customerId: 'C-A04' },
    { via: 'link' as const, customerId: 'C-A05' },
  ])(
    'does not answer "nothing was recorded" ($via) for a decision it recorded and handed to the workflow before DynamoDB dropped',
    async ({ via, customerId }) => {
      const since = nowSeconds();
      const transfer = await createTransfer({ customerIds: [customerId], toPartnerId: 'P-BLUE', requestedDate: 'immediate' });
      const link = await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since, poll);
      await waitingFor(transfer.id, 'release');

      // The decision goes out; DynamoDB drops the moment the workflow has received it, so the recording
      // (one transaction) and the hand-over are both done, and only the request's last reads remain.
      let answered = false;
      const sent = (
        via === 'api'
          ? t.client.call('POST', `/transfers/${transfer.id}/release`, acme, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' })
          : t.client.postForm(link, { decision: 'release', transferDate: '', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' })
      ).finally(() => {
        answered = true;
      });
      let handedOver = false;
      try {
        while (!answered && !handedOver) {
          handedOver = (await history(transfer.id)).some((e) => e.stateExitedEventDetails?.name === 'Await release from current partner');
          if (handedOver) faults.dynamodb.cut();
        }
        await sent;
      } finally {
        faults.dynamodb.restore();
      }
      // Only when the request outran the watch is nothing cut: then the answer is simply the usual one.
      if (!handedOver) console.info(`${via}: the request was answered before the hand-over was seen; DynamoDB was not cut`);
      const answer = await sent;
      const status = answer.status;
      const text = 'html' in answer ? answer.html : JSON.stringify(answer.body);

      const recorded = await getTransfer(transfer.id);
      expect(recorded.history.filter((e) => e.type === 'RELEASED')).toHaveLength(1);
      // The decision stands and the workflow acted on it: the answer must not say the opposite.
      expect.soft(status, `answered ${status}: ${text.slice(0, 300)}`).toBe(200);
      expect.soft(text).not.toMatch(/nothing was (recorded|changed)/i);

      const done = await t.client.waitForStatus(transfer.id, blue, ['COMPLETED', 'FAILED'], 20_000);
      expect(done.status).toBe('COMPLETED');
      expect(await executionEnded(transfer.id)).toBe('SUCCEEDED');
    },
  );

  it('retries the acceptance email while SES is unreachable, sends it once SES is back, and completes', async () => {
    const since = nowSeconds();
    const transfer = await createTransfer({ customerIds: ['C-A03'], toPartnerId: 'P-BLUE' });
    await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since, poll);
    await waitingFor(transfer.id, 'release');

    // The release itself sends no email: SES goes down as it is recorded, before the workflow asks for the acceptance.
    faults.ses.cut();
    let failedAttempts: string[];
    try {
      const released = await t.client.call('POST', `/transfers/${transfer.id}/release`, acme, {
        decision: 'release',
        transferDate: 'immediate',
        signedBy: 'Alice Smith',
      });
      expect(released.status, JSON.stringify(released.body)).toBe(200);
      expect((released.body as TransferView).status).toBe('AWAITING_ACCEPTANCE');
      // Restored as soon as one attempt has failed: the workflow's remaining retries then succeed.
      failedAttempts = await poll(
        'a failed attempt to ask for the acceptance',
        async () => {
          const failed = attemptsOf(await history(transfer.id), ACCEPTANCE_WAIT).failed;
          return failed.length > 0 ? failed : undefined;
        },
        15_000,
        25,
      );
    } finally {
      faults.ses.restore();
    }
    expect(failedAttempts).toContain('TransientError');

    const acceptLink = await approvalLinkFor(t, 'partners@bluewave.example', transfer.id, since, poll);
    const attempts = attemptsOf(await history(transfer.id), ACCEPTANCE_WAIT);
    expect(attempts.failed.length).toBeGreaterThanOrEqual(1);
    expect(attempts.failed.every((error) => error === 'TransientError')).toBe(true);
    expect(attempts.retried).toBe(attempts.failed.length);
    console.info(`acceptance request with SES down: ${attempts.failed.length} failed attempt(s), ${attempts.retried} retried`);
    // One link, one email, one request on record, however many attempts it took.
    const requests = (await t.client.emails(since)).filter((e) => e.subject.includes(transfer.id) && e.subject.startsWith('Acceptance needed'));
    expect(requests).toHaveLength(1);
    const waiting = await getTransfer(transfer.id);
    expect(waiting.status).toBe('AWAITING_ACCEPTANCE');
    expect(waiting.history.filter((e) => e.type === 'APPROVAL_REQUESTED' && e.detail.step === 'acceptance')).toHaveLength(1);

    expect(await t.client.submitLink(acceptLink, { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' })).toBe(200);
    const done = await t.client.waitForStatus(transfer.id, blue, ['COMPLETED', 'FAILED'], 20_000);
    expect(done.status).toBe('COMPLETED');
    expect(await ownerOf(t, 'C-A03')).toBe('P-BLUE');
    expect(await executionEnded(transfer.id)).toBe('SUCCEEDED');
    expect(attemptsOf(await history(transfer.id), ACCEPTANCE_WAIT).succeeded).toBe(1);
    const confirmations = (await t.client.emails(since)).filter((e) => e.subject.startsWith('Transfer completed') && e.subject.includes(transfer.id));
    expect(confirmations).toHaveLength(2);
  });
});
