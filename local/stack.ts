import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT, LOCAL_REGION, lambdaContext } from './lambda-context.ts';
import { renderWorkflowDefinition } from '../lib/render-definition.ts';
import { DynamoDirectory } from '../lambdas/adapters/dynamo-directory.ts';
import { TABLE_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../lambdas/adapters/table-schema.ts';
import {
  HTTP_ROUTES,
  LIVE_ALIAS,
  QUEUE_FUNCTIONS,
  STREAM_FUNCTIONS,
  WORKFLOW_FUNCTIONS,
  handlerEntry,
  type FunctionKind,
  type FunctionName,
} from '../lambdas/handlers/catalog.ts';
import { parsePortalOrigins } from '../lib/cors.ts';
import { RELAY_EVENT_SOURCE, eventBusName } from '../lib/event-relay.ts';
import { buildBundles } from './lambda-runtime/bundles.ts';
import { deployContext, deployedStack, resolveEnvironment, type DeployedStack } from './lambda-runtime/deployed-functions.ts';
import { LocalLambda, MAX_ENVIRONMENTS, asStepFunctionsError, processStreams, type FunctionLogSink } from './lambda-runtime/functions.ts';
import { directoryFileSchema } from '../lambdas/domain/directory.ts';
import { freePort, startDynamoDbLocal, startSesLocal, type RunningEmulator } from './emulators.ts';
import { startSesFront } from './ses-front.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { startLocalHttpApi, type LocalHttpApiOptions, type LocalHttpHandler, type LocalRoute } from './http-api/server.ts';
import { loadOrCreateSigningKey, localJwtSettings } from './jwt-keys.ts';
import { startLocalStepFunctions, type LocalFunction } from './step-functions/server.ts';
import { startLocalEventBridge, type LocalEventBridge } from './eventbridge/server.ts';
import { startStreamPoller, type StreamEventSourceSettings } from './dynamodb-streams/poller.ts';
import { startLocalSqs, type LocalSqs } from './sqs/server.ts';
import { startSqsEventSource } from './sqs/event-source.ts';
import { operatorRoutes } from './operator/routes.ts';

export const DEMO_DIRECTORY = new URL('./demo-directory.json', import.meta.url);

export interface LocalStackOptions {
  /** Ports; 0 picks a free one. Defaults come from DYNAMODB_PORT, SES_PORT, SFN_PORT, API_PORT, EVENTS_PORT, SQS_PORT. */
  ports?: Partial<Record<'dynamodb' | 'ses' | 'sfn' | 'api' | 'events' | 'sqs', number>>;
  /** Where the local signing key lives (see jwt-keys.ts). */
  stateDir: string;
  /**
   * Keeps the table and the queues (webhook deliveries under way) in this directory, so that a restart
   * finds them again; in memory without it. Default from LOCAL_DATA_DIR. Workflows under way are not kept.
   */
  dataDir?: string;
  /** Directory file to seed; null seeds nothing. */
  seedFile?: string | URL | null;
  /** Caps the sleep until the transfer date, in seconds (LOCAL_MAX_WAIT_SECONDS). */
  maxWaitSeconds?: number;
  /** Settings for the functions (TRANSFER_*, SENDER_EMAIL, ...), over the process environment. */
  env?: Record<string, string>;
  /** Caps every Retry interval of the workflow, in milliseconds, so local runs need not wait the deployed backoff. */
  maxRetryIntervalMs?: number;
  /** Puts a fault proxy between the functions and DynamoDB Local and the SES emulator (for tests). */
  faultProxies?: boolean;
  /**
   * How the functions run. `bundles` (the default): each from the bundle CDK deploys, in its own
   * execution environments, with the environment the synthesized template gives it and Lambda's
   * quotas. `sources`: the TypeScript handlers in this process, for a debugger. Default from
   * LOCAL_FUNCTIONS.
   */
  functions?: 'bundles' | 'sources';
  /** Where the functions' log lines go (default: this process's stdout and stderr). */
  functionLog?: FunctionLogSink;
  log?: (line: string) => void;
  /** Sees every answer of the HTTP API to a matched route (see {@link LocalHttpApiOptions.onAnswer}). */
  onAnswer?: LocalHttpApiOptions['onAnswer'];
}

export interface LocalStack {
  urls: { api: string; ses: string; sfn: string; dynamodb: string; events: string; sqs: string };
  tableName: string;
  /** The local EventBridge API the relay publishes to: its accepted events, and fault injection for tests. */
  eventBridge: LocalEventBridge;
  /** The local SQS API: the webhook deliveries queue and its dead-letter queue, by the template's logical ids. */
  sqs: LocalSqs;
  /**
   * The logical ids of the deliveries queue and its dead-letter queue, and of the mail feedback queue (where
   * the alert topic hands SES bounces and complaints on AWS; locally nothing bounces, so tests send them).
   */
  queues: { deliveries: string; deadLetters: string; mailFeedback: string };
  stateMachineArn: string;
  /** Present with `faultProxies`: cut and restore the functions' way to DynamoDB or SES. */
  faults?: { dynamodb: FaultProxy; ses: FaultProxy };
  /** How the functions run (see {@link LocalStackOptions.functions}). */
  functions: 'bundles' | 'sources';
  stop(): Promise<void>;
}

function envPort(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

async function resolvePort(port: number): Promise<number> {
  return port === 0 ? freePort() : port;
}


type LambdaModule = { handler: (event: unknown, context: Context) => Promise<unknown> };

async function loadHandler(kind: FunctionKind, name: FunctionName): Promise<LambdaModule['handler']> {
  const module = (await import(/* @vite-ignore */ `../${handlerEntry(kind, name)}`)) as LambdaModule;
  return module.handler;
}

/** The table as the CDK construct declares it, from the shared schema, with its stream; answers the stream's ARN. */
export async function createTable(endpoint: string, tableName: string): Promise<{ streamArn: string }> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const attributes = new Set<string>([TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey]);
  for (const index of TABLE_INDEXES) attributes.add(index.partitionKey).add(index.sortKey);
  try {
    // A table kept from an earlier run (LOCAL_DATA_DIR) is used as it is.
    const kept = await client.send(new DescribeTableCommand({ TableName: tableName })).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
      throw error;
    });
    if (kept?.Table?.LatestStreamArn !== undefined) return { streamArn: kept.Table.LatestStreamArn };
    const created = await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: TABLE_INDEXES.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })),
        // As the CDK table's `dynamoStream`: the relay reads each new item's image.
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );
    const streamArn = created.TableDescription?.LatestStreamArn;
    if (streamArn === undefined) throw new Error(`DynamoDB Local created ${tableName} without a stream.`);
    await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }),
    );
    return { streamArn };
  } finally {
    client.destroy();
  }
}

/** The approval-link key of this machine's local runs, created once (0600) so links stay valid across restarts. */
async function localLinkKey(stateDir: string): Promise<string> {
  const file = join(stateDir, 'approval-link.key');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeFile(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}

/** Loads a directory file (validated whole first) into the table the functions use. */
export async function seedDirectory(file: string | URL, endpoint: string | undefined, tableName: string): Promise<{ partners: number; customers: number }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read ${String(file)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const result = directoryFileSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new Error(`${String(file)} is not a directory file: ${problems.join('; ')}`);
  }
  const client = new DynamoDBClient({ ...(endpoint ? { endpoint } : {}), region: process.env.AWS_REGION ?? LOCAL_REGION });
  try {
    const directory = new DynamoDirectory(DynamoDBDocumentClient.from(client), tableName);
    return await directory.load(result.data);
  } finally {
    client.destroy();
  }
}

/** Node timers fire at once beyond this (about 24.8 days), so no local wait may be longer. */
const LONGEST_TIMER_MS = 2_147_483_647;

/**
 * The sleep until the transfer date (the wake instant the schedule step returned), shortened to at
 * most `capSeconds` when given.
 */
export function cappedWait(capSeconds: number | undefined) {
  return ({ taskResults }: { taskResults: ReadonlyArray<{ stateName: string; payload: unknown }> }): number | undefined => {
    const wakeAt = [...taskResults].reverse().map((r) => findWakeAt(r.payload)).find((w) => w !== undefined);
    const cap = capSeconds === undefined ? LONGEST_TIMER_MS : Math.min(capSeconds * 1000, LONGEST_TIMER_MS);
    if (wakeAt === undefined) return capSeconds === undefined ? undefined : cap;
    return Math.min(cap, Math.max(0, Date.parse(wakeAt) - Date.now()));
  };
}

function findWakeAt(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const record = payload as Record<string, unknown>;
  if (typeof record.wakeAt === 'string') return record.wakeAt;
  return findWakeAt(record.Payload);
}

function functionsMode(value: string | undefined): 'bundles' | 'sources' {
  if (value === undefined || value === '' || value === 'bundles') return 'bundles';
  if (value === 'sources') return 'sources';
  throw new Error(`LOCAL_FUNCTIONS must be "bundles" or "sources", got "${value}"`);
}

/**
 * Starts the whole system on this machine: DynamoDB Local, the SES emulator, the local Step Functions
 * API running the deployed definition, the HTTP API and the EventBridge API, with each function run
 * from its deployed bundle in Lambda-like execution environments (or, with `functions: 'sources'`, in
 * process). A free port (0) is picked before its server listens, so another process may take it
 * meanwhile: the stack is then started again on other free ports (never when a port was named).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const picksFreePorts = Object.values(options.ports ?? {}).some((port) => port === 0);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startLocalStackOnce(options);
    } catch (error) {
      const taken = error instanceof Error && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!taken || !picksFreePorts || attempt >= 3) throw error;
    }
  }
}

async function startLocalStackOnce(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    const ports = {
      dynamodb: await resolvePort(options.ports?.dynamodb ?? envPort('DYNAMODB_PORT', 8000)),
      ses: await resolvePort(options.ports?.ses ?? envPort('SES_PORT', 8005)),
      sfn: await resolvePort(options.ports?.sfn ?? envPort('SFN_PORT', 8083)),
      api: await resolvePort(options.ports?.api ?? envPort('API_PORT', 3000)),
      events: options.ports?.events ?? envPort('EVENTS_PORT', 8010),
      sqs: options.ports?.sqs ?? envPort('SQS_PORT', 8011),
    };
    const dataDir = options.dataDir ?? (process.env.LOCAL_DATA_DIR || undefined);
    const emulators: RunningEmulator[] = await Promise.all([
      startDynamoDbLocal({ port: ports.dynamodb, ...(dataDir ? { dbPath: join(dataDir, 'dynamodb') } : {}) }),
      startSesLocal({ port: ports.ses }),
    ]);
    for (const emulator of emulators) stoppers.push(() => emulator.stop());
    const [dynamodb, ses] = emulators as [RunningEmulator, RunningEmulator];
    log(`DynamoDB Local on ${dynamodb.endpoint}, SES emulator on ${ses.endpoint}`);

    const settings: Record<string, string | undefined> = { ...process.env, ...options.env };
    // Origins a browser portal may call the API from, as the deployed API's CORS (context portalOrigins).
    const portalOrigins = parsePortalOrigins(settings.PORTAL_ORIGINS, 'PORTAL_ORIGINS');
    const tableName = settings.TABLE_NAME ?? 'customer-transfers';
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const mode = options.functions ?? functionsMode(settings.LOCAL_FUNCTIONS);
    // The stack as `cdk deploy` would ship it with these settings: each function's environment, timeout and memory.
    const deployed: DeployedStack = await deployedStack(deployContext(settings));
    // The emulator sends whatever it is given; the functions reach it through a front that refuses what SES
    // refuses (a configuration set the stack does not create, a message tag SES would not take).
    const sesFront = await startSesFront({ target: ses.endpoint, configurationSets: deployed.configurationSets });
    stoppers.push(() => sesFront.close());
    let faults: LocalStack['faults'];
    if (options.faultProxies) {
      const endpointOf = (url: string) => ({ host: '127.0.0.1', port: Number(new URL(url).port) });
      faults = { dynamodb: await startFaultProxy(endpointOf(dynamodb.endpoint)), ses: await startFaultProxy(endpointOf(sesFront.endpoint)) };
      for (const proxy of Object.values(faults)) stoppers.push(() => proxy.close());
    }
    const eventBridge = await startLocalEventBridge({
      port: ports.events,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      buses: [eventBusName(deployed.stackName)],
      log,
    });
    stoppers.push(() => eventBridge.close());
    // The stack's queues, named by their logical ids, with their visibility, retention and redrive.
    const sqs = await startLocalSqs({
      port: ports.sqs,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      queues: deployed.queues.map((queue) => ({
        name: queue.id,
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        messageRetentionSeconds: queue.retentionSeconds,
        ...(queue.redrive ? { redrive: { deadLetterQueueName: queue.redrive.deadLetterQueueId, maxReceiveCount: queue.redrive.maxReceiveCount } } : {}),
      })),
      ...(dataDir ? { persistFile: join(dataDir, 'queues.json') } : {}),
      log: options.log ?? ((line) => console.error(line)),
    });
    stoppers.push(() => sqs.close());
    const linkKey = await localLinkKey(options.stateDir);
    const local = {
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      tableName,
      apiUrl,
      // No SNS here: alerts go to DEVOPS_EMAIL only.
      alertTopicArn: '',
      approvalLinkKey: linkKey,
      queueUrl: (id: string) => sqs.queueUrl(id),
    };
    const endpoints = {
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      // A proxy in front of an emulator (faults, benchmarks) may be named in `env`.
      AWS_ENDPOINT_URL_DYNAMODB: options.env?.AWS_ENDPOINT_URL_DYNAMODB ?? faults?.dynamodb.endpoint ?? dynamodb.endpoint,
      AWS_ENDPOINT_URL_SESV2: options.env?.AWS_ENDPOINT_URL_SESV2 ?? faults?.ses.endpoint ?? sesFront.endpoint,
      AWS_ENDPOINT_URL_SFN: options.env?.AWS_ENDPOINT_URL_SFN ?? `http://127.0.0.1:${ports.sfn}`,
      AWS_ENDPOINT_URL_EVENTBRIDGE: options.env?.AWS_ENDPOINT_URL_EVENTBRIDGE ?? eventBridge.url,
      AWS_ENDPOINT_URL_SQS: options.env?.AWS_ENDPOINT_URL_SQS ?? sqs.url,
      // Webhooks may reach receivers on this machine (http, loopback); never so on AWS.
      WEBHOOK_ALLOW_PRIVATE_TARGETS: settings.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? 'true',
      // No CloudWatch here: metrics would only be JSON noise on the console.
      POWERTOOLS_METRICS_DISABLED: settings.POWERTOOLS_METRICS_DISABLED ?? 'true',
      // Like Lambda's log-level control: a local run may turn the functions' logging up or down.
      ...(settings.POWERTOOLS_LOG_LEVEL ? { POWERTOOLS_LOG_LEVEL: settings.POWERTOOLS_LOG_LEVEL } : {}),
    };
    // Each function's SDK calls say which function made them (in the User-Agent), for the benchmarks' call meter.
    const environments = new Map<string, Record<string, string>>(
      deployed.functions.map((fn) => [fn.name, { ...resolveEnvironment(fn, deployed, local), ...endpoints, AWS_SDK_UA_APP_ID: fn.name }]),
    );
    const stateMachineArn = environments.values().next().value?.STATE_MACHINE_ARN ?? '';
    const stateMachineName = stateMachineArn.split(':').at(-1) ?? '';
    if (!stateMachineArn.includes(':stateMachine:')) throw new Error('The synthesized functions name no state machine (STATE_MACHINE_ARN).');
    // The handlers of `sources` runs read their settings from this process's environment, as on Lambda
    // (every function of the stack is given the same variables).
    const shared = deployed.functions[0];
    // What only some functions' environments name (the bus, the queue, the retry schedule).
    const only = {
      ...environments.get(STREAM_FUNCTIONS.relayEvents),
      ...environments.get(QUEUE_FUNCTIONS.deliverWebhooks),
    };
    const named = (keys: readonly string[]) => Object.fromEntries(keys.flatMap((key) => (only[key] ? [[key, only[key]]] : [])));
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      ...(shared ? resolveEnvironment(shared, deployed, local) : {}),
      ...named(['EVENT_BUS_NAME', 'WEBHOOK_QUEUE_URL', 'WEBHOOK_RETRY_SCHEDULE_SECONDS']),
      ...endpoints,
      ...options.env,
    });
    delete process.env.AWS_PROFILE;

    const { streamArn } = await createTable(dynamodb.endpoint, tableName);
    if (options.seedFile !== null) {
      const seeded = await seedDirectory(options.seedFile ?? DEMO_DIRECTORY, dynamodb.endpoint, tableName);
      log(`Seeded ${seeded.partners} partners and ${seeded.customers} customers`);
    }

    if (mode === 'bundles') log('Bundling the functions as CDK ships them (only what changed since the last run)…');
    const bundles = mode === 'bundles' ? await buildBundles(deployed.functions) : undefined;
    const lambdas = new Map<string, LocalLambda>();
    stoppers.push(async () => {
      await Promise.all([...lambdas.values()].map((lambda) => lambda.close()));
    });
    for (const fn of deployed.functions) {
      const bundle = bundles?.get(fn.name);
      if (bundle === undefined) continue;
      lambdas.set(fn.name, new LocalLambda({
        name: fn.name,
        bundle: bundle.file,
        handler: fn.handler,
        // Every caller invokes the live alias, so the context names it as Lambda does.
        arn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${fn.name}:${LIVE_ALIAS}`,
        region: LOCAL_REGION,
        timeoutSeconds: fn.timeoutSeconds,
        memoryMb: fn.memoryMb,
        environment: environments.get(fn.name) ?? {},
      }, options.functionLog ?? processStreams));
    }
    if (bundles) log(`Functions run from their bundles (${[...bundles.values()].filter((b) => b.built).length} of ${bundles.size} built now)`);
    const timeoutOf = (name: string) => (deployed.functions.find((fn) => fn.name === name)?.timeoutSeconds ?? 3) * 1000;

    // The table's stream feeds the relay as the event source mapping does, with the same settings.
    const relayName = STREAM_FUNCTIONS.relayEvents;
    const relayLambda = lambdas.get(relayName);
    let invokeRelay: (event: DynamoDBStreamEvent) => Promise<unknown>;
    if (relayLambda) {
      invokeRelay = (event) => relayLambda.invoke(event);
    } else {
      const handler = await loadHandler('stream', relayName);
      invokeRelay = (event) => handler(event, lambdaContext(relayName, Date.now() + timeoutOf(relayName)));
    }
    const relaySource: StreamEventSourceSettings = RELAY_EVENT_SOURCE;
    const poller = startStreamPoller({
      endpoint: dynamodb.endpoint,
      streamArn,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
      // A failing batch is split in halves before it is tried again (the mapping's bisectBatchOnError).
      settings: { ...relaySource, bisectBatchOnError: relaySource.bisectBatchOnError ?? true },
      invoke: invokeRelay,
      functionName: relayName,
      // Only discarded batches and stream errors: lines an operator must see.
      log: options.log ?? ((line) => console.error(line)),
    });
    stoppers.push(() => poller.stop());

    // Each queue feeds its function as the event source mapping does, with the same batch settings.
    for (const source of deployed.queueSources) {
      const lambda = lambdas.get(source.functionName);
      const invoke = lambda
        ? (event: SQSEvent) => lambda.invoke(event)
        : await loadHandler('queue', source.functionName).then((handler) => (event: SQSEvent) =>
            handler(event, lambdaContext(source.functionName, Date.now() + timeoutOf(source.functionName))));
      const mapping = startSqsEventSource({
        sqs,
        queueName: source.queueId,
        region: LOCAL_REGION,
        batchSize: source.batchSize,
        maxBatchingWindowSeconds: source.maxBatchingWindowSeconds,
        // Lambda adds pollers while the queue has a backlog, up to the mapping's maximum concurrency; here up
        // to the execution environments a local function may have.
        pollers: Math.min(source.maxConcurrency ?? MAX_ENVIRONMENTS, MAX_ENVIRONMENTS),
        invoke,
        functionName: source.functionName,
        log: options.log ?? ((line) => console.error(line)),
      });
      stoppers.push(() => mapping.stop());
    }
    const deliveries = deployed.queueSources.find((source) => source.functionName === QUEUE_FUNCTIONS.deliverWebhooks)?.queueId ?? '';
    const deadLetters = deployed.queues.find((queue) => queue.id === deliveries)?.redrive?.deadLetterQueueId ?? '';
    if (deliveries === '' || deadLetters === '') throw new Error('The synthesized stack has no webhook deliveries queue with a dead-letter queue.');
    const mailFeedback = deployed.queueSources.find((source) => source.functionName === QUEUE_FUNCTIONS.recordMailFeedback)?.queueId ?? '';
    if (mailFeedback === '') throw new Error('The synthesized stack has no mail feedback queue.');

    // Registered under their alias, which is what the definition invokes (as deployed).
    const functions: Record<string, LocalFunction> = {};
    for (const name of Object.values(WORKFLOW_FUNCTIONS)) {
      const lambda = lambdas.get(name);
      if (lambda) {
        functions[`${name}:${LIVE_ALIAS}`] = (event) => lambda.invoke(event).catch((error: unknown) => Promise.reject(asStepFunctionsError(error)));
      } else {
        const handler = await loadHandler('workflow', name);
        functions[`${name}:${LIVE_ALIAS}`] = (event) => handler(event, lambdaContext(name, Date.now() + timeoutOf(name)));
      }
    }
    const sfn = await startLocalStepFunctions({
      port: ports.sfn,
      stateMachineName,
      stateMachineArn,
      definition: renderWorkflowDefinition((name) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`),
      functions,
      waitOverrideMs: cappedWait(options.maxWaitSeconds),
      ...(options.maxRetryIntervalMs !== undefined ? { maxRetryIntervalMs: options.maxRetryIntervalMs } : {}),
      log,
    });
    stoppers.push(() => sfn.close());

    const routes: LocalRoute[] = [];
    for (const route of HTTP_ROUTES) {
      const lambda = lambdas.get(route.handler);
      const handler = lambda ? ((event) => lambda.invoke(event)) as LocalHttpHandler : ((await loadHandler('http', route.handler)) as LocalHttpHandler);
      routes.push({ method: route.method, path: route.path, auth: route.auth, functionName: route.handler, handler });
    }
    // The local operator view (local only, not in the deployed route table).
    routes.push(...operatorRoutes({ sfnEndpoint: sfn.url, stateMachineArn, dynamodbEndpoint: endpoints.AWS_ENDPOINT_URL_DYNAMODB, tableName }));
    const key = await loadOrCreateSigningKey(options.stateDir);
    const jwt = localJwtSettings();
    const api = await startLocalHttpApi({
      port: ports.api,
      routes,
      jwt: { issuer: jwt.issuer, audience: jwt.audience, jwks: key.publicJwks },
      ...(portalOrigins.length > 0 ? { cors: { allowOrigins: portalOrigins } } : {}),
      ...(options.onAnswer ? { onAnswer: options.onAnswer } : {}),
      log,
    });
    stoppers.push(() => api.close());

    return {
      urls: { api: api.url, ses: ses.endpoint, sfn: sfn.url, dynamodb: dynamodb.endpoint, events: eventBridge.url, sqs: sqs.url },
      tableName,
      eventBridge,
      sqs,
      queues: { deliveries, deadLetters, mailFeedback },
      stateMachineArn,
      ...(faults ? { faults } : {}),
      functions: mode,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
