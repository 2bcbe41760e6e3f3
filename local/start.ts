import { localStateDir } from './jwt-keys.ts';
import { startLocalStack } from './stack.ts';

/** `npm start`: the whole system on this machine, seeded with the demo directory, until Ctrl-C. */
function maxWaitSeconds(): number | undefined {
  const value = process.env.LOCAL_MAX_WAIT_SECONDS;
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`LOCAL_MAX_WAIT_SECONDS must be a number of seconds, got "${value}"`);
  }
  return seconds;
}

const started = Date.now();
try {
  const stack = await startLocalStack({
    stateDir: localStateDir(),
    maxWaitSeconds: maxWaitSeconds(),
    log: (line) => console.log(`[local] ${line}`),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[local] ${signal}: stopping…`);
    void stack.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  console.log(
    [
      `Customer Transfer Workflow is ready in ${((Date.now() - started) / 1000).toFixed(1)} s:`,
      `  HTTP API            ${stack.urls.api}   (GET /health)`,
      `  Operator view       ${stack.urls.api}/operator`,
      `  Emails (SES)        ${stack.urls.ses}   (every email sent; JSON at /store)`,
      `  Step Functions API  ${stack.urls.sfn}`,
      `  EventBridge API     ${stack.urls.events}   (every event published; JSON at /events)`,
      `  SQS API             ${stack.urls.sqs}   (webhook deliveries)`,
      `  DynamoDB Local      ${stack.urls.dynamodb}   (table ${stack.tableName}${process.env.LOCAL_DATA_DIR ? `, kept in ${process.env.LOCAL_DATA_DIR}` : ', in memory'})`,
      `Try: npm run demo   ·   TOKEN=$(npm run --silent token -- --partner P-ACME)   ·   Ctrl-C stops everything`,
    ].join('\n'),
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
