import type { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiAnswer, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { listExecutions, sfnClient } from './support.ts';

let t: TestStack;
let sfn: SFNClient;

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  sfn = sfnClient(t.stack);
});

afterAll(async () => {
  sfn?.destroy();
  await t?.stop();
});

type ErrorBody = { error: { code: string; message: string } };
type ListedTransfer = { id: string; customers: { id: string }[] };

const create = (token: string, body: unknown, key?: string): Promise<ApiAnswer> =>
  t.client.call('POST', '/transfers', token, body, key === undefined ? {} : { 'Idempotency-Key': key });

/** The transfers a partner sees that name this customer. */
async function transfersOf(token: string, customerId: string): Promise<ListedTransfer[]> {
  const answer = await t.client.call('GET', '/transfers?limit=100', token);
  expect(answer.status).toBe(200);
  const { items } = answer.body as { items: ListedTransfer[] };
  return items.filter((transfer) => transfer.customers.some((customer) => customer.id === customerId));
}

/** The names of every execution the state machine has started. */
const executionNames = async () => (await listExecutions(sfn, t.stack.stateMachineArn, 100)).map((execution) => execution.name ?? '');

const errorCode = (answer: ApiAnswer) => (answer.body as ErrorBody).error.code;

describe('POST /transfers with an Idempotency-Key', () => {
  it('answers a repeat with the first answer, and files one transfer with one workflow', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const body = { customerIds: ['C-A01'], toPartnerId: 'P-BLUE', note: 'Moving to Bluewave' };
    const executionsBefore = (await executionNames()).length;

    const first = await create(blue, body, 'blue-order-1');
    expect(first.status).toBe(201);
    const transfer = first.body as TransferView;
    expect(first.headers.get('location')).toBe(`/transfers/${transfer.id}`);

    // The same body with its keys in another order and other spacing is the same request.
    const repeat = await create(blue, `{ "note": "Moving to Bluewave",\n  "toPartnerId": "P-BLUE", "customerIds": ["C-A01"] }`, 'blue-order-1');
    expect(repeat.status).toBe(201);
    expect(repeat.body).toEqual(first.body);
    expect(repeat.headers.get('location')).toBe(`/transfers/${transfer.id}`);

    expect((await transfersOf(blue, 'C-A01')).map((listed) => listed.id)).toEqual([transfer.id]);
    const names = await executionNames();
    expect(names.filter((name) => name === transfer.id)).toHaveLength(1);
    expect(names).toHaveLength(executionsBefore + 1);
  });

  it('refuses the same key with another body (422) and changes nothing', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const first = await create(blue, { customerIds: ['C-A02'], toPartnerId: 'P-BLUE' }, 'blue-order-2');
    expect(first.status).toBe(201);
    const executionsBefore = (await executionNames()).length;

    const reused = await create(blue, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE' }, 'blue-order-2');
    expect(reused.status).toBe(422);
    expect(errorCode(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await transfersOf(blue, 'C-A03')).toEqual([]);
    expect(await executionNames()).toHaveLength(executionsBefore);

    // The key still answers its own body.
    const repeat = await create(blue, { customerIds: ['C-A02'], toPartnerId: 'P-BLUE' }, 'blue-order-2');
    expect(repeat.status).toBe(201);
    expect((repeat.body as TransferView).id).toBe((first.body as TransferView).id);
  });

  it("keeps each partner's keys apart", async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const coral = await t.token({ partnerId: 'P-CORAL' });

    const forBlue = await create(blue, { customerIds: ['C-A04'], toPartnerId: 'P-BLUE' }, 'shared-key');
    const forCoral = await create(coral, { customerIds: ['C-A05'], toPartnerId: 'P-CORAL' }, 'shared-key');

    expect(forBlue.status).toBe(201);
    expect(forCoral.status).toBe(201);
    const blueId = (forBlue.body as TransferView).id;
    const coralId = (forCoral.body as TransferView).id;
    expect(coralId).not.toBe(blueId);
    expect(forCoral.headers.get('location')).toBe(`/transfers/${coralId}`);
    expect((await transfersOf(coral, 'C-A05')).map((listed) => listed.id)).toEqual([coralId]);
  });

  it('does not remember a request that failed: the corrected body with the same key runs', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });

    const failed = await create(blue, { customerIds: ['C-NOBODY'], toPartnerId: 'P-BLUE' }, 'blue-order-3');
    expect(failed.status).toBe(422);
    expect(errorCode(failed)).toBe('UNKNOWN_CUSTOMER');

    const corrected = await create(blue, { customerIds: ['C-A06'], toPartnerId: 'P-BLUE' }, 'blue-order-3');
    expect(corrected.status).toBe(201);
    expect((await transfersOf(blue, 'C-A06')).map((listed) => listed.id)).toEqual([(corrected.body as TransferView).id]);
  });

  it.each([
    ['empty', ''],
    ['longer than 128 characters', 'k'.repeat(129)],
    ['not printable', 'order\t7'],
  ])('answers 400 to a key that is %s, and files nothing', async (_what, key) => {
    const blue = await t.token({ partnerId: 'P-BLUE' });

    const answer = await create(blue, { customerIds: ['C-A07'], toPartnerId: 'P-BLUE' }, key);

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'INVALID_REQUEST', message: 'The Idempotency-Key header must be 1 to 128 printable ASCII characters.' } });
    expect(await transfersOf(blue, 'C-A07')).toEqual([]);
  });

  it('files one transfer for two identical requests sent at once', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const body = { customerIds: ['C-A08'], toPartnerId: 'P-BLUE' };
    const executionsBefore = (await executionNames()).length;

    const answers = await Promise.all([create(blue, body, 'blue-order-4'), create(blue, body, 'blue-order-4')]);

    const created = answers.filter((answer) => answer.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    const id = (created[0]?.body as TransferView).id;
    for (const answer of answers) {
      if (answer.status === 201) {
        expect((answer.body as TransferView).id).toBe(id);
        expect(answer.headers.get('location')).toBe(`/transfers/${id}`);
      } else {
        expect(answer.status).toBe(409);
        expect(errorCode(answer)).toBe('REQUEST_IN_PROGRESS');
      }
    }
    expect((await transfersOf(blue, 'C-A08')).map((listed) => listed.id)).toEqual([id]);
    expect(await executionNames()).toHaveLength(executionsBefore + 1);

    // Once the first has finished, a repeat gets its answer.
    const later = await create(blue, body, 'blue-order-4');
    expect(later.status).toBe(201);
    expect((later.body as TransferView).id).toBe(id);
  });

  it('leaves requests without the header as they were: each one runs', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const body = { customerIds: ['C-A09'], toPartnerId: 'P-BLUE' };

    const first = await create(blue, body);
    const second = await create(blue, body);

    expect(first.status).toBe(201);
    // The second runs and meets the first one's claim on the customer.
    expect(second.status).toBe(409);
    expect(errorCode(second)).not.toBe('REQUEST_IN_PROGRESS');
  });
});
