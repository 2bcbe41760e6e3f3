import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyInconsistentStateError,
  IdempotencyItemNotFoundError,
  IdempotencyPersistenceLayerError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config.ts';
import type { Caller } from '../domain/caller.ts';
import { ConflictError, NotAllowedError, TransientError, ValidationError } from '../domain/errors.ts';
import { TABLE_KEYS, TTL_ATTRIBUTE } from './table-schema.ts';
import { isTransient } from './transient.ts';

/**
 * Idempotency records live in the single table, one item per (operation, caller, key):
 *
 * | pk          | sk                           | attributes                                                             |
 * |-------------|------------------------------|------------------------------------------------------------------------|
 * | IDEMPOTENCY | REQUEST#<sha256 of the key>  | status, bodyHash, answer, inProgressUntilEpochMs, expiresAtEpoch (TTL) |
 */
export const IDEMPOTENCY_PARTITION = 'IDEMPOTENCY';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** How long a key keeps its answer. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/**
 * How long a request holds its key while it runs: API Gateway gives up on an integration after
 * 30 s (the functions time out at 29 s), so a key whose request died frees itself after that.
 */
export const IN_PROGRESS_LOCK_MS = 30_000;
const KEY_PREFIX = 'REQUEST';
const MAX_KEY_LENGTH = 128;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * The Idempotency-Key header of a request: undefined when absent; a ValidationError when it is not
 * 1 to 128 printable ASCII characters.
 */
export function idempotencyKeyOf(headers: Record<string, string | undefined> | undefined): string | undefined {
  const wanted = IDEMPOTENCY_HEADER.toLowerCase();
  const entry = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === wanted);
  if (entry === undefined || entry[1] === undefined) return undefined;
  const key = entry[1];
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) {
    const message = `must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters`;
    throw new ValidationError(`The ${IDEMPOTENCY_HEADER} header ${message}.`, { issues: [{ field: IDEMPOTENCY_HEADER, message }] });
  }
  return key;
}

/** Whose keys these are: a partner's keys are shared by its people; an operator's are their own. */
export function idempotencyScope(caller: Caller): string {
  return caller.kind === 'partner' ? `partner:${caller.partnerId}` : `operator:${caller.subject}`;
}

export interface IdempotentRequest {
  /** What is asked, e.g. `POST /transfers`; the same key on another operation is another key. */
  operation: string;
  caller: Caller;
  /** The client's Idempotency-Key. */
  key: string;
  /** The parsed request body: a repeat must carry an equal one (key order and spacing aside). */
  body: unknown;
}

export interface IdempotentAnswer<T> {
  value: T;
  /** The value is the one the first request with this key answered; nothing ran now. */
  replayed: boolean;
  /** False when the answer ran but its record could not be completed (the key frees itself shortly). */
  recorded: boolean;
}

/** What Powertools hashes: `key` names the record, `body` is what a repeat is checked against. */
interface RecordData {
  key: { operation: string; scope: string; key: string };
  body: unknown;
}

/** Powertools' DynamoDB layer, holding a key in progress for as long as the API waits for an answer. */
class RequestRecords extends DynamoDBPersistenceLayer {
  override saveInProgress(data: Parameters<DynamoDBPersistenceLayer['saveInProgress']>[0]): Promise<void> {
    return super.saveInProgress(data, IN_PROGRESS_LOCK_MS);
  }
}

/** Answers Idempotency-Key requests once (Powertools, in the same table). */
export type IdempotencyPort = Pick<IdempotentRequests, 'answerOnce'>;

/** The Idempotency-Key records of a function that takes the header (see `Adapters` in composition.ts). */
export function idempotentRequests(config: Pick<Config, 'TABLE_NAME'>): IdempotencyPort {
  return new IdempotentRequests(new DynamoDBClient({}), config.TABLE_NAME);
}

/**
 * Answers a request at most once per (operation, caller, key), on Powertools idempotency with its
 * DynamoDB persistence layer. A request that fails leaves no record, so it may be sent again.
 */
export class IdempotentRequests {
  readonly #once: (data: RecordData, answer: () => Promise<unknown>) => Promise<unknown>;

  constructor(client: DynamoDBClient, tableName: string) {
    const persistenceStore = new RequestRecords({
      awsSdkV3Client: client,
      tableName,
      keyAttr: TABLE_KEYS.partitionKey,
      sortKeyAttr: TABLE_KEYS.sortKey,
      staticPkValue: IDEMPOTENCY_PARTITION,
      expiryAttr: TTL_ATTRIBUTE,
      inProgressExpiryAttr: 'inProgressUntilEpochMs',
      statusAttr: 'status',
      dataAttr: 'answer',
      validationKeyAttr: 'bodyHash',
    });
    const config = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'body',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
      hashFunction: 'sha256',
    });
    this.#once = makeIdempotent((_data: RecordData, answer: () => Promise<unknown>) => answer(), {
      persistenceStore,
      config,
      keyPrefix: KEY_PREFIX,
      dataIndexArgument: 0,
    });
  }

  /**
   * Runs `answer` for the first request with this key and remembers its value for 24 h; a repeat
   * with an equal body gets that value back without running anything. A repeat with another body is
   * a NotAllowedError (IDEMPOTENCY_KEY_REUSED); one while the first still runs, a ConflictError
   * (REQUEST_IN_PROGRESS). The value must be plain JSON data.
   */
  async answerOnce<T>(request: IdempotentRequest, answer: () => Promise<T>): Promise<IdempotentAnswer<T>> {
    const data: RecordData = {
      key: { operation: request.operation, scope: idempotencyScope(request.caller), key: request.key },
      body: request.body,
    };
    const ran: { outcome?: { ok: true; value: T } | { ok: false; error: unknown } } = {};
    const run = async (): Promise<T> => {
      try {
        const value = await answer();
        ran.outcome = { ok: true, value };
        return value;
      } catch (error) {
        ran.outcome = { ok: false, error };
        throw error;
      }
    };
    try {
      const value = await this.#once(data, run);
      // Without an outcome nothing ran: the value is the record's, which holds what `answer` gave the first time.
      return ran.outcome?.ok ? { value: ran.outcome.value, replayed: false, recorded: true } : { value: value as T, replayed: true, recorded: true };
    } catch (error) {
      // What the request did wins over the record's bookkeeping: its answer stands, and so does its own error.
      if (ran.outcome?.ok) return { value: ran.outcome.value, replayed: false, recorded: false };
      if (ran.outcome) throw ran.outcome.error;
      throw asDomainError(error);
    }
  }
}

function asDomainError(error: unknown): unknown {
  if (error instanceof IdempotencyValidationError) {
    return new NotAllowedError(
      'IDEMPOTENCY_KEY_REUSED',
      `This ${IDEMPOTENCY_HEADER} was already used with another request body. Send the same body again, or use a new key for a new request.`,
    );
  }
  if (error instanceof IdempotencyAlreadyInProgressError) {
    return new ConflictError(
      'REQUEST_IN_PROGRESS',
      `A request with this ${IDEMPOTENCY_HEADER} is still being processed. Send it again in a few seconds to get its answer.`,
    );
  }
  // The record changed while it was read: the same request may simply be sent again.
  if (error instanceof IdempotencyInconsistentStateError || error instanceof IdempotencyItemNotFoundError) return new TransientError();
  if (error instanceof IdempotencyPersistenceLayerError && isTransient(error.cause)) return new TransientError();
  return error;
}
