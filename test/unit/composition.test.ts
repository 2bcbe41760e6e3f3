import { describe, expect, it, vi } from 'vitest';
import { compose, getServices, readConfig, type Adapters, type IdempotencyPort } from '../../lambdas/composition.ts';
import type { Caller } from '../../lambdas/domain/caller.ts';

const ENV = { TABLE_NAME: 'customer-transfers', AWS_REGION: 'us-east-1' };
const OPERATOR: Caller = { kind: 'operator', subject: 'op@provider.example' };
const REQUEST = { operation: 'POST /transfers', caller: OPERATOR, key: 'k-1', body: {} };

describe('compose', () => {
  it('makes each adapter a function is wired with from the configuration', async () => {
    const answerOnce = vi.fn(() => Promise.resolve({ value: 'answer', replayed: false, recorded: true }));
    const idempotency = vi.fn((): IdempotencyPort => ({ answerOnce }) as unknown as IdempotencyPort);
    const services = compose({ idempotency }, ENV);
    expect(idempotency).toHaveBeenCalledWith(expect.objectContaining({ TABLE_NAME: 'customer-transfers', SENDER_EMAIL: 'transfers@example.com' }));
    await expect(services.idempotency.answerOnce(REQUEST, () => Promise.resolve('answer'))).resolves.toMatchObject({ value: 'answer' });
  });

  it('answers a call to an adapter the function is not wired with by naming it', async () => {
    const services = compose({}, ENV);
    await expect(services.idempotency.answerOnce(REQUEST, () => Promise.resolve(1))).rejects.toThrow(
      'This function is not wired with the idempotency adapter',
    );
  });

  it('refuses a configuration without a table, saying which setting is wrong', () => {
    expect(() => readConfig({ TRANSFER_TIMEZONE: 'Mars/Olympus' })).toThrow(/Invalid configuration: TABLE_NAME .*; TRANSFER_TIMEZONE must be an IANA time zone/);
  });
});

describe('getServices', () => {
  it('composes once per adapters object: once per container, once per handler in the local stack', () => {
    const before = process.env.TABLE_NAME;
    process.env.TABLE_NAME = 'customer-transfers';
    try {
      const reads: Adapters = {};
      const writes: Adapters = {};
      expect(getServices(reads)).toBe(getServices(reads));
      expect(getServices(writes)).not.toBe(getServices(reads));
    } finally {
      if (before === undefined) delete process.env.TABLE_NAME;
      else process.env.TABLE_NAME = before;
    }
  });
});
