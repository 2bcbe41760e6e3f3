import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIRECTORY, startTestStack, type TestStack } from './local-stack.ts';
import { createTransfer, getTransfer, poll } from './support.ts';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY, functions: 'sources' });
});

afterAll(async () => {
  await t?.stop();
});

describe('the local stack with LOCAL_FUNCTIONS=sources (for a debugger)', () => {
  it('runs the TypeScript handlers in process, with the same settings the bundles get', async () => {
    expect(t.stack.functions).toBe('sources');
    const token = await t.token({ partnerId: 'P-ACME' });
    const created = await createTransfer(t, token, { customerIds: ['C-A20'], toPartnerId: 'P-BLUE' });
    expect(created.status).toBe('AWAITING_RELEASE');
    expect((await getTransfer(t, created.id, token)).id).toBe(created.id);
    expect(process.env.STATE_MACHINE_ARN).toBe(t.stack.stateMachineArn);
    // The relay too runs in process, fed by the table's stream, and publishes to the local bus.
    const published = await poll('the request on the local bus', async () => {
      const { events } = (await (await fetch(`${t.stack.urls.events}/events`)).json()) as { events: Array<{ 'detail-type': string; detail: { transferId: string } }> };
      const ours = events.filter((event) => event.detail.transferId === created.id);
      return ours.length > 0 ? ours : undefined;
    });
    expect(published.map((event) => event['detail-type'])).toEqual(['transfer.requested']);
  });
});
