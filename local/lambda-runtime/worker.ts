/**
 * One execution environment of a local function: a worker thread that loads the function's bundle
 * once (its init phase) and then answers invocations one at a time, the way the Node.js Lambda runtime
 * does: the event arrives as JSON text, the result leaves as JSON text, and an error is reported as
 * `{errorType, errorMessage, trace}` with the type taken from the error's `name`.
 *
 * It runs without any loader (Node strips the types of this file itself), and imports only builtins.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { types } from 'node:util';

/** What the pool hands a new environment. */
export interface WorkerSetup {
  /** Absolute path of the bundle (`index.mjs`). */
  readonly bundle: string;
  /** The exported handler's name (`handler` for Handler `index.handler`). */
  readonly exportName: string;
  /** The function's ARN, as the context reports it. */
  readonly functionArn: string;
}

/** One invocation, as the pool posts it. */
export interface InvokeMessage {
  readonly id: number;
  /** The event as JSON text. */
  readonly event: string;
  readonly awsRequestId: string;
  readonly deadline: number;
  readonly traceId: string;
}

/** What the Node.js runtime reports for a failed invocation. */
export interface RuntimeError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];
}

/** The answer to one invocation: the result as JSON text, or the error. */
export type InvokeReply = { readonly id: number; readonly result: string } | { readonly id: number; readonly error: RuntimeError };

type Handler = (event: unknown, context: Record<string, unknown>) => unknown;

/** The runtime's rule: an Error (or anything shaped like one) reports its name; anything else its type. */
export function toRuntimeError(error: unknown): RuntimeError {
  try {
    if (types.isNativeError(error) || isErrorLike(error)) {
      const { name, message, stack } = error as Error;
      return { errorType: String(name), errorMessage: String(message), trace: typeof stack === 'string' ? stack.split('\n') : [] };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'The error thrown could not be read.', trace: [] };
  }
}

function isErrorLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.name === 'string' && record.name !== '' && typeof record.message === 'string' && typeof record.stack === 'string';
}

const setup = workerData as WorkerSetup;
const port = parentPort;

async function init(): Promise<{ handler: Handler } | { failure: RuntimeError }> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(setup.bundle).href)) as Record<string, unknown>;
  } catch (error) {
    const reported = toRuntimeError(error);
    return { failure: { ...reported, errorType: 'Runtime.ImportModuleError', errorMessage: `${reported.errorType}: ${reported.errorMessage}` } };
  }
  const handler = module[setup.exportName];
  if (typeof handler !== 'function') {
    return { failure: { errorType: 'Runtime.HandlerNotFound', errorMessage: `index.${setup.exportName} is undefined or not exported`, trace: [] } };
  }
  return { handler: handler as Handler };
}

function contextFor(message: InvokeMessage): Record<string, unknown> {
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local';
  const unsupported = (): never => {
    throw new Error('Callback-style completion is not supported; return or throw from the async handler.');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: setup.functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    awsRequestId: message.awsRequestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

if (port !== null) {
  process.env.AWS_LAMBDA_LOG_STREAM_NAME = `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;
  const ready = init();
  port.on('message', (message: InvokeMessage) => {
    void (async (): Promise<InvokeReply> => {
      const loaded = await ready;
      if ('failure' in loaded) return { id: message.id, error: loaded.failure };
      process.env._X_AMZN_TRACE_ID = message.traceId;
      try {
        const result = await loaded.handler(JSON.parse(message.event), contextFor(message));
        try {
          return { id: message.id, result: JSON.stringify(result === undefined ? null : result) };
        } catch (error) {
          return { id: message.id, error: { ...toRuntimeError(error), errorMessage: 'Unable to stringify response body' } };
        }
      } catch (error) {
        return { id: message.id, error: toRuntimeError(error) };
      }
    })().then((reply) => port.postMessage(reply));
  });
}
