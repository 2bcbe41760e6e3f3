import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOW_ERRORS } from '../../lambdas/handlers/catalog.ts';
import { esbuildOptions } from '../../lib/bundling.ts';
import { BUILD_DIR, REPO_ROOT, buildBundles } from '../../local/lambda-runtime/bundles.ts';
import { eventBusName } from '../../lib/event-relay.ts';
import { STACK_NAME, deployedStack, resolveEnvironment } from '../../local/lambda-runtime/deployed-functions.ts';
import { LambdaInvocationError, LocalLambda, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, asStepFunctionsError } from '../../local/lambda-runtime/functions.ts';

const ENTRY = 'test/fixtures/functions/probe.ts';

let dir: string;
let bundle: string;
const logLines: string[] = [];
const lambdas: LocalLambda[] = [];

function probe(overrides: { timeoutSeconds?: number; environment?: Record<string, string> } = {}): LocalLambda {
  const lambda = new LocalLambda(
    {
      name: 'probe',
      bundle,
      handler: 'index.handler',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:probe',
      region: 'us-east-1',
      timeoutSeconds: overrides.timeoutSeconds ?? 10,
      memoryMb: 256,
      environment: overrides.environment ?? { GIVEN_BY_THE_STACK: 'yes' },
    },
    (name, stream, line) => logLines.push(`${name} ${stream} ${line}`),
  );
  lambdas.push(lambda);
  return lambda;
}

async function failure(promise: Promise<unknown>): Promise<LambdaInvocationError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LambdaInvocationError);
  return error as LambdaInvocationError;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transfer-runtime-'));
  bundle = join(dir, 'index.mjs');
  // Minified, as every function is: class names are gone from the bundle.
  await build(esbuildOptions(REPO_ROOT, ENTRY, bundle));
});

afterAll(async () => {
  await Promise.all(lambdas.map((lambda) => lambda.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('a function run from its minified bundle by the local Lambda runtime', () => {
  it('reports each workflow error with the type the state machine matches', async () => {
    const lambda = probe();
    for (const type of [WORKFLOW_ERRORS.transient, WORKFLOW_ERRORS.cancelled, WORKFLOW_ERRORS.rehomeFailed]) {
      const error = await failure(lambda.invoke({ do: 'throw', error: type }));
      expect(error).toMatchObject({ kind: 'function', errorType: type });
    }
  });

  it('reports every domain error under its own name, with message and trace', async () => {
    const lambda = probe();
    for (const type of ['ValidationError', 'NotFoundError', 'ForbiddenError', 'ConflictError', 'NotAllowedError', 'DecisionNotYetDelivered']) {
      const error = await failure(lambda.invoke({ do: 'throw', error: type }));
      expect(error.errorType).toBe(type);
      expect(error.trace[0]).toBe(`${type}: ${error.errorMessage}`);
    }
    // Anything thrown that is not an Error reports its JavaScript type, as the Node.js runtime does.
    expect(await failure(lambda.invoke({ do: 'throw-string' }))).toMatchObject({ errorType: 'string', errorMessage: 'just a string' });
  });

  it('gives the function only its own environment and the runtime variables, and a context with its deadline', async () => {
    process.env.ONLY_IN_THE_TEST_PROCESS = 'leak';
    const answer = (await probe({ timeoutSeconds: 7 }).invoke({ do: 'env' })) as { env: Record<string, string>; remaining: number; functionName: string };
    expect(answer.env.GIVEN_BY_THE_STACK).toBe('yes');
    expect(answer.env.ONLY_IN_THE_TEST_PROCESS).toBeUndefined();
    expect(answer.env.PATH).toBeUndefined();
    expect(answer.env).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'probe', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256', AWS_REGION: 'us-east-1' });
    expect(answer.functionName).toBe('probe');
    expect(answer.remaining).toBeGreaterThan(5_000);
    expect(answer.remaining).toBeLessThanOrEqual(7_000);
  });

  it('keeps an environment warm between invocations', async () => {
    const lambda = probe();
    await lambda.invoke({ do: 'count' });
    expect(await lambda.invoke({ do: 'count' })).toEqual({ invocations: 2 });
    expect(lambda.environmentCount).toBe(1);
  });

  it('answers a response over 6 MB with Lambda\'s error, and passes one just under it', async () => {
    const lambda = probe();
    const error = await failure(lambda.invoke({ do: 'return', bytes: MAX_RESPONSE_BYTES }));
    expect(error).toMatchObject({ kind: 'function', errorType: 'Function.ResponseSizeTooLarge' });
    expect(error.errorMessage).toBe('Response payload size exceeded maximum allowed payload size (6291556 bytes).');
    const fits = (await lambda.invoke({ do: 'return', bytes: MAX_RESPONSE_BYTES - 100 })) as { data: string };
    expect(fits.data).toHaveLength(MAX_RESPONSE_BYTES - 100);
  });

  it('refuses a request over 6 MB without running the function', async () => {
    const lambda = probe();
    const error = await failure(lambda.invoke({ do: 'count', padding: 'x'.repeat(MAX_REQUEST_BYTES) }));
    expect(error).toMatchObject({ kind: 'service', errorType: 'RequestTooLargeException' });
    expect(lambda.environmentCount).toBe(0);
  });

  it('ends an invocation at the function timeout, discards that environment and starts a fresh one next', async () => {
    const lambda = probe({ timeoutSeconds: 1 });
    await lambda.invoke({ do: 'count' });
    const started = Date.now();
    const error = await failure(lambda.invoke({ do: 'sleep', ms: 5_000 }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toMatchObject({ kind: 'runtime', errorType: 'Sandbox.Timedout' });
    expect(error.errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    // A new environment: its module state starts again.
    expect(await lambda.invoke({ do: 'count' })).toEqual({ invocations: 1 });
  });

  it('hands Step Functions a function\'s error by its type, a timeout as Lambda.Unknown and a refused invocation as a Lambda API error', async () => {
    const lambda = probe({ timeoutSeconds: 1 });
    const thrown = await failure(lambda.invoke({ do: 'throw', error: WORKFLOW_ERRORS.transient }));
    expect(asStepFunctionsError(thrown)).toMatchObject({ name: WORKFLOW_ERRORS.transient });
    const timedOut = asStepFunctionsError(await failure(lambda.invoke({ do: 'sleep', ms: 5_000 }))) as Error;
    expect(timedOut.name).toBe('Lambda.Unknown');
    expect(JSON.parse(timedOut.message)).toMatchObject({ errorType: 'Sandbox.Timedout' });
    const refused = await failure(lambda.invoke({ do: 'count', padding: 'x'.repeat(MAX_REQUEST_BYTES) }));
    expect(asStepFunctionsError(refused)).toMatchObject({ name: 'Lambda.RequestTooLargeException' });
  });

  it('reports an exception thrown outside the handler as a runtime error and recovers', async () => {
    const lambda = probe();
    const error = await failure(lambda.invoke({ do: 'crash' }));
    expect(error.kind).toBe('runtime');
    expect(await lambda.invoke({ do: 'count' })).toEqual({ invocations: 1 });
  });

  it('runs simultaneous invocations in separate environments', async () => {
    const lambda = probe();
    await Promise.all([1, 2, 3].map(() => lambda.invoke({ do: 'sleep', ms: 300 })));
    expect(lambda.environmentCount).toBe(3);
  });
});

describe('the functions as the synthesized stack deploys them', () => {
  it('reads each function\'s handler, runtime, timeout, memory and environment from the template', async () => {
    const stack = await deployedStack({ jwtIssuer: 'https://issuer.transfer.localhost/', jwtAudience: 'transfer-portal', approvalWindowSeconds: '600' });
    expect(stack.functions).toHaveLength(22);
    const rehome = stack.functions.find((fn) => fn.name === 'rehome-customers');
    if (rehome === undefined) throw new Error('no rehome-customers function');
    expect(rehome).toMatchObject({ handler: 'index.handler', runtime: 'nodejs24.x', timeoutSeconds: 120, memoryMb: 512 });
    const environment = resolveEnvironment(rehome, stack, {
      region: 'us-east-1',
      account: '000000000000',
      tableName: 'local-table',
      apiUrl: 'http://127.0.0.1:3999',
      alertTopicArn: '',
      approvalLinkKey: 'k'.repeat(40),
      queueUrl: (id: string) => `http://127.0.0.1:1/000000000000/${id}`,
    });
    expect(environment).toMatchObject({
      TABLE_NAME: 'local-table',
      TRANSFER_APPROVAL_WINDOW_SECONDS: '600',
      STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:CustomerTransfer-transfer-workflow',
      PUBLIC_BASE_URL: 'http://127.0.0.1:3999',
      ALERT_TOPIC_ARN: '',
      APPROVAL_LINK_KEY: 'k'.repeat(40),
    });
    // The secret's ARN has no local twin: the key itself stands in for it.
    expect(environment.APPROVAL_LINK_KEY_SECRET_ARN).toBeUndefined();
    // Exactly the template's variables, no more.
    expect(Object.keys(environment).sort()).toEqual(
      Object.keys(rehome.environment).map((name) => (name === 'APPROVAL_LINK_KEY_SECRET_ARN' ? 'APPROVAL_LINK_KEY' : name)).sort(),
    );
  });
});

describe('the relay as the synthesized stack deploys it', () => {
  it("is told the local bus, named as the stack names its bus, for the template's reference to the bus", async () => {
    const stack = await deployedStack({ jwtIssuer: 'https://issuer.transfer.localhost/', jwtAudience: 'transfer-portal', approvalWindowSeconds: '600' });
    const relay = stack.functions.find((fn) => fn.name === 'relay-events');
    if (relay === undefined) throw new Error('no relay-events function');
    expect(relay.entry).toBe('lambdas/handlers/stream/relay-events.ts');
    const reference = relay.environment.EVENT_BUS_NAME as { Ref: string };
    expect(stack.resourceTypes[reference.Ref]).toBe('AWS::Events::EventBus');
    const environment = resolveEnvironment(relay, stack, {
      region: 'us-east-1',
      account: '000000000000',
      tableName: 'local-table',
      apiUrl: 'http://127.0.0.1:3999',
      alertTopicArn: '',
      approvalLinkKey: 'k'.repeat(40),
      queueUrl: (id: string) => `http://127.0.0.1:1/000000000000/${id}`,
    });
    expect(environment).toMatchObject({ EVENT_BUS_NAME: eventBusName(STACK_NAME), TABLE_NAME: 'local-table' });
    expect(eventBusName(STACK_NAME)).toBe('CustomerTransfer-events');
  });
});

describe('the bundles kept between runs', () => {
  it('are built again only when a file that went into them changed', async () => {
    const name = `cache-probe-${randomUUID().slice(0, 8)}`;
    const entry = `.local/test-entries/${name}.ts`;
    await mkdir(join(REPO_ROOT, '.local', 'test-entries'), { recursive: true });
    try {
      await writeFile(join(REPO_ROOT, entry), 'export const handler = async () => 1;\n');
      const first = (await buildBundles([{ name, entry }])).get(name);
      const again = (await buildBundles([{ name, entry }])).get(name);
      expect(first?.built).toBe(true);
      expect(again).toMatchObject({ built: false, file: first?.file });

      await writeFile(join(REPO_ROOT, entry), 'export const handler = async () => 2;\n');
      const changed = (await buildBundles([{ name, entry }])).get(name);
      expect(changed?.built).toBe(true);
      expect(changed?.file).not.toBe(first?.file);
    } finally {
      await rm(join(REPO_ROOT, entry), { force: true });
      await rm(join(BUILD_DIR, name), { recursive: true, force: true });
    }
  });
});

describe('the SES configuration set as the synthesized stack deploys it', () => {
  it('is listed for the local SES front, and every function that sends names that one', async () => {
    const stack = await deployedStack({ jwtIssuer: 'https://issuer.transfer.localhost/', jwtAudience: 'transfer-portal' });
    expect(stack.configurationSets).toEqual([`${STACK_NAME}-mail`]);
    const named = stack.functions.flatMap((fn) => (fn.environment.SES_CONFIGURATION_SET === undefined ? [] : [fn.environment.SES_CONFIGURATION_SET]));
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named)).toEqual(new Set(stack.configurationSets));
  });
});
