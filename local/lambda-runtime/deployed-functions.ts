import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { allFunctions, type FunctionName } from '../../lambdas/handlers/catalog.ts';
import { eventBusName } from '../../lib/event-relay.ts';
import { localJwtSettings } from '../jwt-keys.ts';
import { replaceFile } from '../replace-file.ts';
import { BUILD_DIR, REPO_ROOT } from './bundles.ts';

/** A CloudFormation value as the template holds it: a literal, or an intrinsic function. */
type TemplateValue = string | number | boolean | null | TemplateValue[] | { [key: string]: TemplateValue };

/** A template's resources by logical id. */
type TemplateResources = Record<string, { Type: string; Properties?: Record<string, TemplateValue> }>;

/** One function as the synthesized template deploys it, before its references are resolved. */
export interface DeployedFunction {
  readonly name: FunctionName;
  /** The handler file in the repository (`lambdas/handlers/...`). */
  readonly entry: string;
  /** Handler as the template says it, e.g. `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** Environment.Variables as synthesized: literals and references to the stack's resources. */
  readonly environment: Record<string, TemplateValue>;
}

/** An SQS queue as the template declares it (its local twin is named by its logical id). */
export interface DeployedQueue {
  readonly id: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly redrive?: { readonly deadLetterQueueId: string; readonly maxReceiveCount: number };
}

/** An event source mapping from a queue to a function. */
export interface DeployedQueueSource {
  readonly functionName: FunctionName;
  readonly queueId: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly maxConcurrency?: number;
  readonly reportBatchItemFailures: boolean;
}

/** What the synthesized stack tells the local twin. */
export interface DeployedStack {
  readonly stackName: string;
  readonly functions: readonly DeployedFunction[];
  /** Resource type of each logical id, to stand local values in for references. */
  readonly resourceTypes: Record<string, string>;
  readonly queues: readonly DeployedQueue[];
  readonly queueSources: readonly DeployedQueueSource[];
  /** The names of the SES configuration sets the stack creates: a send naming another one is refused, as SES does. */
  readonly configurationSets: readonly string[];
}

/** The files the stack is synthesized from, and this file, which reads it: any change there synthesizes again. */
const SOURCES = ['bin', 'lib', 'lambdas'];
const SOURCE_FILES = ['cdk.json', 'package-lock.json', 'local/lambda-runtime/deployed-functions.ts'];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)).sort();
}

async function sourceHash(context: Record<string, unknown>): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(context));
  const files = [...(await Promise.all(SOURCES.map(filesUnder))).flat(), ...SOURCE_FILES.map((file) => join(REPO_ROOT, file))];
  for (const file of files) hash.update(file).update(await readFile(file));
  return hash.digest('hex').slice(0, 32);
}

/** The settings `cdk deploy -c key=value` takes, from the environment variables a local run is configured with. */
export function deployContext(env: Record<string, string | undefined>): Record<string, string> {
  const jwt = localJwtSettings();
  const context: Record<string, string> = { jwtIssuer: jwt.issuer, jwtAudience: jwt.audience };
  const fromEnv: Record<string, string> = {
    TRANSFER_TIMEZONE: 'transferTimezone',
    TRANSFER_APPROVAL_WINDOW_SECONDS: 'approvalWindowSeconds',
    TRANSFER_REMINDER_INTERVAL_SECONDS: 'reminderIntervalSeconds',
    TRANSFER_LOCK_DAYS: 'lockDays',
    TRANSFER_RETENTION_DAYS: 'retentionDays',
    SENDER_EMAIL: 'senderEmail',
    DEVOPS_EMAIL: 'devopsEmail',
    PUBLIC_BASE_URL: 'publicBaseUrl',
    JWT_PARTNER_CLAIM: 'jwtPartnerClaim',
    JWT_ROLES_CLAIM: 'jwtRolesClaim',
    WEBHOOK_RETRY_SCHEDULE_SECONDS: 'webhookRetrySchedule',
  };
  for (const [variable, key] of Object.entries(fromEnv)) {
    const value = env[variable];
    if (value !== undefined && value !== '') context[key] = value;
  }
  return context;
}

/** cdk.json's context, as `cdk synth` and `cdk deploy` read it. */
async function cdkJsonContext(): Promise<Record<string, unknown>> {
  const cdkJson = JSON.parse(await readFile(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/**
 * Synthesizes the CDK app's stack as `cdk deploy` would, with `context` as `-c key=value` flags (but
 * without bundling: the local twin builds the same bundles itself), and reads each function's
 * handler, runtime, timeout, memory and environment from the template. Kept in the build directory
 * by a hash of the sources and the context, so a warm start does not load the CDK at all.
 */
export async function deployedStack(context: Record<string, string>): Promise<DeployedStack> {
  const fullContext = { ...(await cdkJsonContext()), ...context };
  const key = await sourceHash(fullContext);
  const cacheDir = join(BUILD_DIR, 'stack');
  const cacheFile = join(cacheDir, `${key}.json`);
  try {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as DeployedStack;
  } catch {
    // Not synthesized with these sources and settings yet.
  }
  const deployed = await synthesize(fullContext);
  await mkdir(cacheDir, { recursive: true });
  await replaceFile(cacheFile, JSON.stringify(deployed));
  return deployed;
}

/** The stack's name locally, as `bin/app.ts` names it. */
export const STACK_NAME = 'CustomerTransfer';

async function synthesize(context: Record<string, unknown>): Promise<DeployedStack> {
  const [{ App }, { CfnFunction }, { TransferStack }, { WORKFLOW_FUNCTIONS }] = await Promise.all([
    import('aws-cdk-lib'),
    import('aws-cdk-lib/aws-lambda'),
    import('../../lib/transfer-stack.ts'),
    import('../../lambdas/handlers/catalog.ts'),
  ]);
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new TransferStack(app, STACK_NAME);
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as { Resources: TemplateResources };

  const constructs: Record<string, { node: { defaultChild?: unknown } }> = { ...stack.api.functions, ...stack.eventRelay.functions, ...stack.webhooks.functions, ...stack.mailFeedback.functions };
  for (const [key, fn] of Object.entries(stack.workflow.functions)) constructs[WORKFLOW_FUNCTIONS[key as keyof typeof WORKFLOW_FUNCTIONS]] = fn;

  const functionIds = new Map<string, FunctionName>();
  const functions = allFunctions().map(({ name, entry }): DeployedFunction => {
    const resource = constructs[name]?.node.defaultChild;
    if (!(resource instanceof CfnFunction)) throw new Error(`The stack has no function ${name}.`);
    functionIds.set(stack.getLogicalId(resource), name);
    const properties = template.Resources[stack.getLogicalId(resource)]?.Properties ?? {};
    const variables = (properties.Environment as { Variables?: Record<string, TemplateValue> } | undefined)?.Variables ?? {};
    return {
      name,
      entry,
      handler: String(properties.Handler),
      runtime: String(properties.Runtime),
      // CloudFormation's defaults when a property is left out.
      timeoutSeconds: typeof properties.Timeout === 'number' ? properties.Timeout : 3,
      memoryMb: typeof properties.MemorySize === 'number' ? properties.MemorySize : 128,
      environment: variables,
    };
  });
  const resourceTypes = Object.fromEntries(Object.entries(template.Resources).map(([id, resource]) => [id, resource.Type]));
  const configurationSets = Object.values(template.Resources).flatMap((resource) => {
    if (resource.Type !== 'AWS::SES::ConfigurationSet') return [];
    const name = resource.Properties?.Name;
    if (typeof name !== 'string') throw new Error('The local twin needs each SES configuration set of the stack to have a literal name.');
    return [name];
  });
  return { stackName: stack.stackName, functions, resourceTypes, configurationSets, ...queuesOf(template.Resources, functionIds) };
}

/** The logical id an `Fn::GetAtt [id, 'Arn']` or a `Ref` names. */
function referencedId(value: TemplateValue | undefined): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return typeof value.Ref === 'string' ? value.Ref : undefined;
}

/** Every logical id a value refers to, however deep (`Ref`, `Fn::GetAtt`). */
function referencedIds(value: TemplateValue | undefined): string[] {
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  const id = referencedId(value);
  return id === undefined ? Object.values(value).flatMap(referencedIds) : [id];
}

/**
 * The function a `FunctionName` invokes: a function of the stack, or the function an alias of the stack
 * points at (an alias is named as `<function name>:<alias>`, made of the alias's ARN).
 */
function invokedFunctionId(resources: TemplateResources, value: TemplateValue | undefined): string | undefined {
  const ids = [...new Set(referencedIds(value))];
  const [id] = ids;
  if (ids.length !== 1 || id === undefined) return undefined;
  const resource = resources[id];
  return resource?.Type === 'AWS::Lambda::Alias' ? referencedId(resource.Properties?.FunctionName) : id;
}

/** The queues and the queue-fed event source mappings, with SQS's and Lambda's defaults where the template is silent. */
function queuesOf(
  resources: TemplateResources,
  functionIds: ReadonlyMap<string, FunctionName>,
): Pick<DeployedStack, 'queues' | 'queueSources'> {
  const number = (value: TemplateValue | undefined, fallback: number) => (typeof value === 'number' ? value : fallback);
  const queues: DeployedQueue[] = [];
  const queueSources: DeployedQueueSource[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::SQS::Queue') {
      const redrive = properties.RedrivePolicy as { deadLetterTargetArn?: TemplateValue; maxReceiveCount?: TemplateValue } | undefined;
      const deadLetterQueueId = referencedId(redrive?.deadLetterTargetArn);
      queues.push({
        id,
        visibilityTimeoutSeconds: number(properties.VisibilityTimeout, 30),
        retentionSeconds: number(properties.MessageRetentionPeriod, 345_600),
        ...(deadLetterQueueId ? { redrive: { deadLetterQueueId, maxReceiveCount: number(redrive?.maxReceiveCount, 10) } } : {}),
      });
    }
    if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
      const queueId = referencedId(properties.EventSourceArn);
      const functionName = functionIds.get(invokedFunctionId(resources, properties.FunctionName) ?? '');
      if (queueId === undefined || resources[queueId]?.Type !== 'AWS::SQS::Queue' || functionName === undefined) continue;
      const scaling = properties.ScalingConfig as { MaximumConcurrency?: TemplateValue } | undefined;
      const types = properties.FunctionResponseTypes;
      queueSources.push({
        functionName,
        queueId,
        batchSize: number(properties.BatchSize, 10),
        maxBatchingWindowSeconds: number(properties.MaximumBatchingWindowInSeconds, 0),
        ...(typeof scaling?.MaximumConcurrency === 'number' ? { maxConcurrency: scaling.MaximumConcurrency } : {}),
        reportBatchItemFailures: Array.isArray(types) && types.includes('ReportBatchItemFailures'),
      });
    }
  }
  return { queues, queueSources };
}

/** Local stand-ins for what a function's environment refers to. */
export interface LocalResources {
  readonly region: string;
  readonly account: string;
  readonly tableName: string;
  /** The HTTP API's URL (for `ApiEndpoint`). */
  readonly apiUrl: string;
  /** The SNS topic's ARN; empty where no SNS runs. */
  readonly alertTopicArn: string;
  /** The approval-link key itself, handed over where the deployed function gets a Secrets Manager ARN. */
  readonly approvalLinkKey: string;
  /** The local URL of a queue, by its logical id. */
  readonly queueUrl: (id: string) => string;
}

const SECRET = Symbol('secret');

/**
 * A function's environment with every reference resolved to its local stand-in. A Secrets Manager
 * secret has no local twin: the variable that names it is replaced by APPROVAL_LINK_KEY with the key
 * itself. A reference the twin cannot stand in for is an error naming it.
 */
export function resolveEnvironment(fn: DeployedFunction, stack: DeployedStack, local: LocalResources): Record<string, string> {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': local.region,
    'AWS::AccountId': local.account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stack.stackName,
  };
  const fail = (variable: string, what: string): never => {
    throw new Error(`The local twin has no stand-in for ${what} in ${variable} of ${fn.name}.`);
  };
  const resolve = (variable: string, value: TemplateValue): string | typeof SECRET => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value === null || Array.isArray(value)) return fail(variable, JSON.stringify(value));
    if ('Ref' in value && typeof value.Ref === 'string') {
      const id = value.Ref;
      if (id in pseudo) return pseudo[id] ?? '';
      switch (stack.resourceTypes[id]) {
        case 'AWS::DynamoDB::Table':
        case 'AWS::DynamoDB::GlobalTable':
          return local.tableName;
        case 'AWS::SNS::Topic':
          return local.alertTopicArn;
        // The local bus is named as the stack names its bus.
        case 'AWS::Events::EventBus':
          return eventBusName(stack.stackName);
        case 'AWS::SecretsManager::Secret':
          return SECRET;
        case 'AWS::SQS::Queue':
          return local.queueUrl(id);
        default:
          return fail(variable, `a reference to ${id} (${stack.resourceTypes[id] ?? 'unknown'})`);
      }
    }
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      const [id, attribute] = getAtt;
      if (typeof id === 'string' && stack.resourceTypes[id] === 'AWS::ApiGatewayV2::Api' && attribute === 'ApiEndpoint') return local.apiUrl;
      return fail(variable, `Fn::GetAtt ${JSON.stringify(getAtt)}`);
    }
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      const parts = join[1].map((part) => resolve(variable, part));
      if (parts.includes(SECRET)) return fail(variable, 'a secret inside Fn::Join');
      return parts.join(join[0]);
    }
    return fail(variable, JSON.stringify(value));
  };
  const environment: Record<string, string> = {};
  for (const [variable, value] of Object.entries(fn.environment)) {
    const resolved = resolve(variable, value);
    if (resolved === SECRET) environment.APPROVAL_LINK_KEY = local.approvalLinkKey;
    else environment[variable] = resolved;
  }
  return environment;
}
