import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIRECTORY, startTestStack, type TestStack } from './local-stack.ts';
import { createTransfer, getTransfer } from './support.ts';

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
  });
});
