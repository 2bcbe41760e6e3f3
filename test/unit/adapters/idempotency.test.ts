import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it, vi } from 'vitest';
import {
  IDEMPOTENCY_TTL_SECONDS,
  IN_PROGRESS_LOCK_MS,
  IdempotentRequests,
  idempotencyKeyOf,
  idempotencyScope,
  type IdempotentRequest,
} from '../../../lambdas/adapters/idempotency.ts';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { ConflictError, NotAllowedError, TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import './aws-matchers.ts';
import { failure, MOCKED_CLIENT_CONFIG, resetAfterEach } from './support.ts';

const TABLE = 'transfers-test';
const ddb = mockClient(DynamoDBClient);
const requests = new IdempotentRequests(
  new DynamoDBClient(MOCKED_CLIENT_CONFIG),
  TABLE,
);

const ACME: Caller = { kind: 'partner', partnerId: 'P-ACME', subject: 'alice@acme.example' };
const BODY = { customerIds: ['C-A01'], toPartnerId: 'P-BLUE', requestedDate: '2026-04-01' };
const REQUEST: IdempotentRequest = { operation: 'POST /transfers', caller: ACME, key: 'order-42', body: BODY };
const ANSWER = { statusCode: 201, headers: { location: '/transfers/TR-1' }, body: '{"id":"TR-1"}' };
const STORED_ANSWER: AttributeValue = {
  M: { statusCode: { N: '201' }, headers: { M: { location: { S: '/transfers/TR-1' } } }, body: { S: '{"id":"TR-1"}' } },
};

resetAfterEach(ddb);

/** The item a request's in-progress write puts, read from the mock. */
async function itemWritten(request: IdempotentRequest): Promise<Record<string, AttributeValue>> {
  ddb.reset();
  ddb.on(PutItemCommand).resolves({});
  ddb.on(UpdateItemCommand).resolves({});
  await requests.answerOnce(request, () => Promise.resolve(ANSWER));
  const item = ddb.commandCalls(PutItemCommand)[0]?.args[0].input.Item;
  if (item === undefined) throw new Error('no PutItem was sent');
  ddb.reset();
  return item;
}

function alreadyThere(item: Record<string, AttributeValue>): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 }, Item: item });
}

const completed = (item: Record<string, AttributeValue>): Record<string, AttributeValue> => ({ ...item, status: { S: 'COMPLETED' }, answer: STORED_ANSWER });

describe('idempotencyKeyOf', () => {
  it('is undefined without the header', () => {
    expect(idempotencyKeyOf({ 'content-type': 'application/json' })).toBeUndefined();
    expect(idempotencyKeyOf(undefined)).toBeUndefined();
  });

  it('reads the header whatever the case of its name', () => {
    expect(idempotencyKeyOf({ 'idempotency-key': 'order-42' })).toBe('order-42');
    expect(idempotencyKeyOf({ 'Idempotency-Key': 'a b:c/d' })).toBe('a b:c/d');
  });

  it('takes 1 to 128 printable characters', () => {
    expect(idempotencyKeyOf({ 'idempotency-key': 'x' })).toBe('x');
    expect(idempotencyKeyOf({ 'idempotency-key': '~'.repeat(128) })).toBe('~'.repeat(128));
  });

  it.each([
    ['empty', ''],
    ['129 characters', 'k'.repeat(129)],
    ['a control character', 'order\t42'],
    ['a non-ASCII character', 'commande-é'],
  ])('refuses a key that is %s', (_what, key) => {
    let thrown: unknown;
    try {
      idempotencyKeyOf({ 'idempotency-key': key });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect(thrown).toMatchObject({
      status: 400,
      message: 'The Idempotency-Key header must be 1 to 128 printable ASCII characters.',
      details: { issues: [{ field: 'Idempotency-Key' }] },
    });
  });
});

describe('idempotencyScope', () => {
  it("is the partner for a partner's people, the subject for an operator", () => {
    expect(idempotencyScope(ACME)).toBe('partner:P-ACME');
    expect(idempotencyScope({ ...ACME, subject: 'bob@acme.example' })).toBe('partner:P-ACME');
    expect(idempotencyScope({ kind: 'operator', subject: 'op@provider.example' })).toBe('operator:op@provider.example');
  });

  it('never confuses a partner with an operator of the same name', () => {
    expect(idempotencyScope({ kind: 'partner', partnerId: 'X', subject: 's' })).not.toBe(idempotencyScope({ kind: 'operator', subject: 'X' }));
  });
});

describe('IdempotentRequests.answerOnce, a first request', () => {
  it('holds the key in the table, runs the answer, then stores it for 24 hours', async () => {
    ddb.on(PutItemCommand, { TableName: TABLE }).resolves({});
    ddb.on(UpdateItemCommand, { TableName: TABLE }).resolves({});
    const before = Date.now();
    const answer = vi.fn(() => Promise.resolve(ANSWER));

    await expect(requests.answerOnce(REQUEST, answer)).resolves.toEqual({ value: ANSWER, replayed: false, recorded: true });

    expect(answer).toHaveBeenCalledTimes(1);
    expect(ddb).toHaveReceivedCommandTimes(PutItemCommand, 1);
    const put = ddb.commandCalls(PutItemCommand)[0]?.args[0].input;
    const item = put?.Item ?? {};
    expect(item.pk).toEqual({ S: 'IDEMPOTENCY' });
    expect(item.sk?.S).toMatch(/^REQUEST#[A-Za-z0-9+/]{43}=$/);
    expect(item.status).toEqual({ S: 'INPROGRESS' });
    expect(item.bodyHash?.S).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const expires = Number(item.expiresAtEpoch?.N);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) + IDEMPOTENCY_TTL_SECONDS);
    expect(expires).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + IDEMPOTENCY_TTL_SECONDS);
    const lockedUntil = Number(item.inProgressUntilEpochMs?.N);
    expect(lockedUntil).toBeGreaterThanOrEqual(before + IN_PROGRESS_LOCK_MS);
    expect(lockedUntil).toBeLessThanOrEqual(Date.now() + IN_PROGRESS_LOCK_MS);
    // Only a missing or an expired record may be overwritten.
    expect(put?.ConditionExpression).toContain('attribute_not_exists(#id)');
    expect(put?.ExpressionAttributeNames).toMatchObject({ '#id': 'pk', '#expiry': 'expiresAtEpoch' });

    expect(ddb).toHaveReceivedCommandExactlyOnceWith(UpdateItemCommand, {
      TableName: TABLE,
      Key: { pk: { S: 'IDEMPOTENCY' }, sk: { S: item.sk?.S ?? '' } },
    });
    const update = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues?.[':status']).toEqual({ S: 'COMPLETED' });
    expect(update?.ExpressionAttributeValues?.[':response_data']).toEqual(STORED_ANSWER);
    expect(update?.ExpressionAttributeNames).toMatchObject({ '#response_data': 'answer', '#status': 'status' });
  });

  it("scopes the record by the caller and the operation, not by the caller's person", async () => {
    const sk = async (request: IdempotentRequest) => (await itemWritten(request)).sk?.S;
    const acme = await sk(REQUEST);
    expect(await sk({ ...REQUEST, caller: { ...ACME, subject: 'bob@acme.example' } })).toBe(acme);
    expect(await sk({ ...REQUEST, caller: { kind: 'partner', partnerId: 'P-BLUE', subject: 'dana@blue.example' } })).not.toBe(acme);
    expect(await sk({ ...REQUEST, caller: { kind: 'operator', subject: 'P-ACME' } })).not.toBe(acme);
    expect(await sk({ ...REQUEST, operation: 'POST /other' })).not.toBe(acme);
    expect(await sk({ ...REQUEST, key: 'order-43' })).not.toBe(acme);
  });

  it('hashes the parsed body, so key order does not matter but values do', async () => {
    const hash = async (body: unknown) => (await itemWritten({ ...REQUEST, body })).bodyHash?.S;
    const original = await hash(BODY);
    expect(await hash({ requestedDate: '2026-04-01', toPartnerId: 'P-BLUE', customerIds: ['C-A01'] })).toBe(original);
    expect(await hash({ ...BODY, customerIds: ['C-A02'] })).not.toBe(original);
  });
});

describe('IdempotentRequests.answerOnce, a repeat', () => {
  it('with the same body gets the stored answer back and runs nothing', async () => {
    const stored = completed(await itemWritten(REQUEST));
    ddb.on(PutItemCommand).rejects(alreadyThere(stored));
    const answer = vi.fn(() => Promise.resolve({ statusCode: 500 }));

    const reordered = { ...REQUEST, body: { toPartnerId: 'P-BLUE', requestedDate: '2026-04-01', customerIds: ['C-A01'] } };
    await expect(requests.answerOnce(reordered, answer)).resolves.toEqual({ value: ANSWER, replayed: true, recorded: true });

    expect(answer).not.toHaveBeenCalled();
    expect(ddb).not.toHaveReceivedCommand(UpdateItemCommand);
    expect(ddb).not.toHaveReceivedCommand(DeleteItemCommand);
  });

  it('reads the record when the failed write does not return it', async () => {
    const stored = completed(await itemWritten(REQUEST));
    ddb.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    ddb.on(GetItemCommand, { TableName: TABLE, Key: { pk: stored.pk ?? { S: '' }, sk: stored.sk ?? { S: '' } }, ConsistentRead: true }).resolves({ Item: stored });

    await expect(requests.answerOnce(REQUEST, () => Promise.resolve({ statusCode: 500 }))).resolves.toMatchObject({ value: ANSWER, replayed: true });
  });

  it('with another body is IDEMPOTENCY_KEY_REUSED (422) and leaves the record alone', async () => {
    const stored = completed(await itemWritten(REQUEST));
    ddb.on(PutItemCommand).rejects(alreadyThere(stored));
    const answer = vi.fn(() => Promise.resolve(ANSWER));

    const error = await failure(requests.answerOnce({ ...REQUEST, body: { ...BODY, customerIds: ['C-A02'] } }, answer));

    expect(error).toBeInstanceOf(NotAllowedError);
    expect(error).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(answer).not.toHaveBeenCalled();
    expect(ddb).not.toHaveReceivedCommand(DeleteItemCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateItemCommand);
  });

  it('while the first still runs is REQUEST_IN_PROGRESS (409) and leaves the record alone', async () => {
    const running = await itemWritten(REQUEST);
    ddb.on(PutItemCommand).rejects(alreadyThere(running));
    const answer = vi.fn(() => Promise.resolve(ANSWER));

    const error = await failure(requests.answerOnce(REQUEST, answer));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'REQUEST_IN_PROGRESS' });
    expect(answer).not.toHaveBeenCalled();
    expect(ddb).not.toHaveReceivedCommand(DeleteItemCommand);
  });
});

describe('IdempotentRequests.answerOnce, failures', () => {
  it('a request that fails forgets its key and keeps its own error', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(DeleteItemCommand).resolves({});
    const refused = new NotAllowedError('UNKNOWN_CUSTOMER', 'No such customer.');

    expect(await failure(requests.answerOnce(REQUEST, () => Promise.reject(refused)))).toBe(refused);

    const sk = ddb.commandCalls(PutItemCommand)[0]?.args[0].input.Item?.sk?.S ?? '';
    expect(ddb).toHaveReceivedCommandExactlyOnceWith(DeleteItemCommand, { TableName: TABLE, Key: { pk: { S: 'IDEMPOTENCY' }, sk: { S: sk } } });
    expect(ddb).not.toHaveReceivedCommand(UpdateItemCommand);
  });

  it('keeps the request’s own error when the key cannot be forgotten either', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(DeleteItemCommand).rejects(new Error('socket hang up'));
    const refused = new NotAllowedError('UNKNOWN_CUSTOMER', 'No such customer.');

    expect(await failure(requests.answerOnce(REQUEST, () => Promise.reject(refused)))).toBe(refused);
  });

  it('a throttled table is a TransientError and nothing runs', async () => {
    ddb.on(PutItemCommand).rejects(
      new DynamoDBServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }),
    );
    const answer = vi.fn(() => Promise.resolve(ANSWER));

    expect(await failure(requests.answerOnce(REQUEST, answer))).toBeInstanceOf(TransientError);
    expect(answer).not.toHaveBeenCalled();
  });

  it('a missing table is not transient', async () => {
    ddb.on(PutItemCommand).rejects(
      new DynamoDBServiceException({ name: 'ResourceNotFoundException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Requested resource not found' }),
    );

    const error = await failure(requests.answerOnce(REQUEST, () => Promise.resolve(ANSWER)));
    expect(error).not.toBeInstanceOf(TransientError);
    expect(error).toBeInstanceOf(Error);
  });

  it('an answer given stands even when its record cannot be completed', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(UpdateItemCommand).rejects(new Error('socket hang up'));

    await expect(requests.answerOnce(REQUEST, () => Promise.resolve(ANSWER))).resolves.toEqual({ value: ANSWER, replayed: false, recorded: false });
  });
});
