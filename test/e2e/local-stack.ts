import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signLocalToken } from '../../local/jwt-keys.ts';
import { LocalClient } from '../../local/local-client.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.ts';

export interface TestStack {
  stack: LocalStack;
  client: LocalClient;
  token(who: { partnerId: string; subject?: string } | 'operator'): Promise<string>;
  stop(): Promise<void>;
}

/** A directory with many customers per partner, so each test can use its own. */
export const TEST_DIRECTORY = new URL('../fixtures/directory.json', import.meta.url);

/** The whole local stack on free ports, started by the test itself, as `npm start` starts it. */
export async function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const stateDir = await mkdtemp(join(tmpdir(), 'transfer-e2e-'));
  const stack = await startLocalStack({
    stateDir,
    ports: { dynamodb: 0, ses: 0, sfn: 0, api: 0 },
    maxWaitSeconds: 1,
    maxRetryIntervalMs: 200,
    ...options,
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', ...options.env },
  });
  return {
    stack,
    client: new LocalClient(stack.urls.api, stack.urls.ses),
    token: (who) =>
      who === 'operator'
        ? signLocalToken({ stateDir, operator: true, subject: 'operator@provider.example' })
        : signLocalToken({ stateDir, partnerId: who.partnerId, subject: who.subject ?? `someone@${who.partnerId.toLowerCase()}.example` }),
    stop: async () => {
      await stack.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
