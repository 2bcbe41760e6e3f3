import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { signLocalToken } from '../../local/jwt-keys.ts';
import { LocalClient } from '../../local/local-client.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.ts';
import { AnswerContract } from '../contract/answers.ts';

export interface TestStack {
  stack: LocalStack;
  client: LocalClient;
  /** Every answer of the HTTP API so far, held to the OpenAPI document. */
  contract: AnswerContract;
  token(who: { partnerId: string; subject?: string } | 'operator'): Promise<string>;
  /** Stops the stack; throws, failing the test file, when any answer broke the OpenAPI contract. */
  stop(): Promise<void>;
}

/** A directory with many customers per partner, so each test can use its own. */
export const TEST_DIRECTORY = new URL('../fixtures/directory.json', import.meta.url);

/** Where each stack's contract summary goes: test-artifacts/contract/<test file>.json. */
const CONTRACT_ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/contract/', import.meta.url));
let stacksStarted = 0;

function summaryFile(): string {
  const testPath = expect.getState().testPath;
  const name = testPath ? basename(testPath).replace(/\.test\.ts$/, '') : `stack-${process.pid}`;
  stacksStarted += 1;
  return join(CONTRACT_ARTIFACTS, `${name}${stacksStarted > 1 ? `-${stacksStarted}` : ''}.json`);
}

/**
 * The whole local stack on free ports, started by the test itself, as `npm start` starts it. Every
 * answer of its HTTP API is checked against the OpenAPI document (lambdas/contract/).
 */
export async function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  // A state directory of the caller's (a restart keeps its keys) is the caller's to remove.
  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'transfer-e2e-')));
  const contract = new AnswerContract();
  const summary = summaryFile();
  const stack = await startLocalStack({
    stateDir,
    ports: { dynamodb: 0, ses: 0, sfn: 0, api: 0, events: 0, sqs: 0 },
    maxWaitSeconds: 1,
    maxRetryIntervalMs: 200,
    ...options,
    onAnswer: (answer) => {
      contract.check(answer);
      options.onAnswer?.(answer);
    },
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', ...options.env },
  });
  return {
    stack,
    client: new LocalClient(stack.urls.api, stack.urls.ses),
    contract,
    token: (who) =>
      who === 'operator'
        ? signLocalToken({ stateDir, operator: true, subject: 'operator@provider.example' })
        : signLocalToken({ stateDir, partnerId: who.partnerId, subject: who.subject ?? `someone@${who.partnerId.toLowerCase()}.example` }),
    stop: async () => {
      await stack.stop();
      if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
      await contract.writeSummary(summary);
      const failure = contract.failure();
      if (failure !== undefined) throw new Error(failure);
    },
  };
}
