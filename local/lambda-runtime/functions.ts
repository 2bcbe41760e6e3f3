import { randomBytes, randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { InvokeMessage, InvokeReply, RuntimeError, WorkerSetup } from './worker.ts';

/** Lambda's quota on a synchronous invocation's request payload (6 MB). */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
/** Lambda's quota on a synchronous invocation's response payload, as its error message states it. */
export const MAX_RESPONSE_BYTES = 6_291_556;

const WORKER_FILE = new URL('./worker.ts', import.meta.url);

/** A function the local twin runs from its bundle. */
export interface LocalFunctionSpec {
  readonly name: string;
  /** Absolute path of the bundle's `index.mjs`. */
  readonly bundle: string;
  /** The template's Handler, e.g. `index.handler`. */
  readonly handler: string;
  /** What the handler's context names as `invokedFunctionArn`. */
  readonly arn: string;
  readonly region: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** The function's own environment (from the template), plus the local endpoints and credentials. */
  readonly environment: Record<string, string>;
}

/**
 * An invocation that did not return a result, as Lambda reports it to its caller.
 * - `function`: the function's own error (`errorType` from the error's name), also a response
 *   too large (`Function.ResponseSizeTooLarge`);
 * - `runtime`: the environment died or ran out of time; Lambda's payload then has no type Step
 *   Functions can match (it reports `Lambda.Unknown`);
 * - `service`: Lambda refused the invocation itself (e.g. `RequestTooLargeException`).
 */
export class LambdaInvocationError extends Error {
  override readonly name: string;
  constructor(
    readonly kind: 'function' | 'runtime' | 'service',
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: readonly string[] = [],
  ) {
    super(errorMessage);
    this.name = errorType;
  }
}

/**
 * A failed invocation as a Lambda task reports it to Step Functions: a function's error by its type;
 * a timeout or a crash, whose payload has no type, as `Lambda.Unknown`; a refused invocation as a
 * Lambda API error (`Lambda.RequestTooLargeException`). Any other error is left as it is.
 */
export function asStepFunctionsError(error: unknown): unknown {
  if (!(error instanceof LambdaInvocationError) || error.kind === 'function') return error;
  const reported = new Error(error.kind === 'runtime' ? JSON.stringify({ errorType: error.errorType, errorMessage: error.errorMessage }) : error.errorMessage);
  reported.name = error.kind === 'runtime' ? 'Lambda.Unknown' : `Lambda.${error.errorType}`;
  return reported;
}

export type FunctionLogSink = (functionName: string, stream: 'stdout' | 'stderr', line: string) => void;

/** Where function log lines go by default: this process's own streams, as CloudWatch would collect them. */
export const processStreams: FunctionLogSink = (_name, stream, line) => {
  (stream === 'stdout' ? process.stdout : process.stderr).write(`${line}\n`);
};

interface Environment {
  readonly worker: Worker;
  busy: boolean;
  /** Set when the environment can no longer be used (it crashed, timed out or is being shut down). */
  dead: boolean;
}

/**
 * One deployed function, run from its bundle in execution environments (worker threads), each with
 * the function's own environment variables and memory limit and answering one invocation at a time.
 * A new environment starts (a cold start) when all are busy; an environment that times out or
 * crashes is discarded, as Lambda discards it. The quotas are Lambda's: 6 MB request and response,
 * and the function's timeout.
 */
/** The execution environments a local function has at most, unless told otherwise. */
export const MAX_ENVIRONMENTS = 8;

export class LocalLambda {
  private readonly environments: Environment[] = [];
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;
  private closed = false;

  constructor(
    readonly spec: LocalFunctionSpec,
    private readonly log: FunctionLogSink = processStreams,
    /** At most this many environments at once; further invocations wait for one to be free. */
    private readonly maxEnvironments = MAX_ENVIRONMENTS,
  ) {}

  /** Invokes the function synchronously (RequestResponse) with `event`, answering its result. */
  async invoke(event: unknown): Promise<unknown> {
    if (this.closed) throw new LambdaInvocationError('service', 'ServiceException', `${this.spec.name} has been shut down.`);
    const payload = JSON.stringify(event ?? null);
    if (Buffer.byteLength(payload) > MAX_REQUEST_BYTES) {
      throw new LambdaInvocationError('service', 'RequestTooLargeException', `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation`);
    }
    const environment = await this.acquire();
    try {
      const result = await this.run(environment, payload);
      if (Buffer.byteLength(result) > MAX_RESPONSE_BYTES) {
        throw new LambdaInvocationError('function', 'Function.ResponseSizeTooLarge', `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`);
      }
      return JSON.parse(result) as unknown;
    } finally {
      this.release(environment);
    }
  }

  /** Ends every environment. */
  async close(): Promise<void> {
    this.closed = true;
    const environments = this.environments.splice(0);
    for (const environment of environments) environment.dead = true;
    await Promise.all(environments.map((environment) => environment.worker.terminate()));
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** How many execution environments exist now (cold starts so far, less those discarded). */
  get environmentCount(): number {
    return this.environments.length;
  }

  private async acquire(): Promise<Environment> {
    for (;;) {
      const idle = this.environments.find((environment) => !environment.busy && !environment.dead);
      if (idle !== undefined) {
        idle.busy = true;
        return idle;
      }
      if (this.environments.length < this.maxEnvironments) {
        const fresh = this.start();
        fresh.busy = true;
        return fresh;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      if (this.closed) throw new LambdaInvocationError('service', 'ServiceException', `${this.spec.name} has been shut down.`);
    }
  }

  private release(environment: Environment): void {
    environment.busy = false;
    if (environment.dead) this.discard(environment);
    this.waiting.shift()?.();
  }

  private discard(environment: Environment): void {
    environment.dead = true;
    const index = this.environments.indexOf(environment);
    if (index !== -1) this.environments.splice(index, 1);
    void environment.worker.terminate();
  }

  private start(): Environment {
    const { spec } = this;
    const [, exportName = 'handler'] = spec.handler.split('.');
    const setup: WorkerSetup = { bundle: spec.bundle, exportName, functionArn: spec.arn };
    const worker = new Worker(WORKER_FILE, {
      workerData: setup,
      // Only what Lambda gives a function: its own variables and the runtime's, nothing of this process.
      env: {
        ...spec.environment,
        AWS_REGION: spec.region,
        AWS_DEFAULT_REGION: spec.region,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_LAMBDA_FUNCTION_NAME: spec.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
        LAMBDA_TASK_ROOT: dirname(spec.bundle),
      },
      // No loader, no flags of this process: the bundle runs on plain Node as on Lambda.
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: spec.memoryMb },
    });
    worker.unref();
    this.forward(worker.stdout, 'stdout');
    this.forward(worker.stderr, 'stderr');
    const environment: Environment = { worker, busy: false, dead: false };
    worker.on('exit', () => {
      if (!environment.dead && !environment.busy) this.discard(environment);
      environment.dead = true;
    });
    this.environments.push(environment);
    return environment;
  }

  private forward(stream: Readable, name: 'stdout' | 'stderr'): void {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.log(this.spec.name, name, line));
  }

  private run(environment: Environment, payload: string): Promise<string> {
    const { worker } = environment;
    const id = this.nextId++;
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const message: InvokeMessage = {
      id,
      event: payload,
      awsRequestId: randomUUID(),
      deadline: Date.now() + timeoutMs,
      traceId: `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Sampled=0`,
    };
    return new Promise<string>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const fail = (error: LambdaInvocationError): void => {
        cleanup();
        environment.dead = true;
        reject(error);
      };
      const onMessage = (reply: InvokeReply): void => {
        if (reply.id !== id) return;
        cleanup();
        if ('error' in reply) reject(functionError(reply.error));
        else resolve(reply.result);
      };
      // An uncaught exception or unhandled rejection ends the environment, as the runtime exits on it.
      const onError = (error: unknown): void => {
        const name = error instanceof Error ? error.name : 'Error';
        const text = error instanceof Error ? error.message : String(error);
        fail(new LambdaInvocationError('runtime', `Runtime.${name === 'Error' ? 'ExitError' : name}`, `RequestId: ${message.awsRequestId} Error: ${text}`));
      };
      const onExit = (code: number): void => {
        fail(new LambdaInvocationError('runtime', 'Runtime.ExitError', `RequestId: ${message.awsRequestId} Error: Runtime exited with error: exit status ${code}`));
      };
      const timer = setTimeout(() => {
        fail(new LambdaInvocationError('runtime', 'Sandbox.Timedout', `RequestId: ${message.awsRequestId} Error: Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds`));
      }, timeoutMs);
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage(message);
    });
  }
}

function functionError(error: RuntimeError): LambdaInvocationError {
  return new LambdaInvocationError('function', error.errorType, error.errorMessage, error.trace);
}
