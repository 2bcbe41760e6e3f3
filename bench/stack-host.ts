/**
 * Runs the local stack for a benchmark in its own process (forked by harness.ts): the system under test
 * gets its own event loop and a fresh module cache, so each benchmark starts from the same state.
 */
import { startLocalStack, type LocalStack } from '../local/stack.ts';
import type { HostMessage, HostRequest } from './harness.ts';

let stack: LocalStack | undefined;
let stopping: Promise<void> | undefined;

function send(message: HostMessage): void {
  if (process.connected) process.send?.(message);
}

function shutdown(): Promise<void> {
  stopping ??= (async () => {
    await stack?.stop().catch(() => undefined);
    send({ type: 'stopped' });
    process.disconnect?.();
    process.exit();
  })();
  return stopping;
}

process.on('message', (raw: unknown) => {
  const message = raw as HostRequest;
  if (message.type === 'stop') {
    void shutdown();
    return;
  }
  const begun = Date.now();
  startLocalStack({ ...message.options })
    .then((started) => {
      stack = started;
      send({ type: 'ready', urls: started.urls, stateMachineArn: started.stateMachineArn, startupMs: Date.now() - begun });
    })
    .catch((error: unknown) => {
      send({ type: 'failed', error: error instanceof Error ? error.message : String(error) });
      process.exitCode = 1;
      process.disconnect?.();
    });
});

// The benchmark went away: take the emulators down with us.
process.on('disconnect', () => void shutdown());
