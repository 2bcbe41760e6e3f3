import { randomBytes } from 'node:crypto';
import { ApiError } from './protocol.ts';

export type TaskTokenState = 'parked' | 'completed' | 'timedOut' | 'aborted';

/** An error the engine matches against Retry/Catch ErrorEquals through its `name`. */
export class TaskFailure extends Error {
  constructor(errorName: string, message: string) {
    super(message);
    this.name = errorName;
  }
}

interface Settle {
  resolve(output: unknown): void;
  reject(error: Error): void;
}

interface TokenEntry {
  state: TaskTokenState;
  readonly executionArn: string;
  settle: Settle | undefined;
  timer: NodeJS.Timeout | undefined;
}

const MAX_TOKEN_LENGTH = 2048;

/**
 * Task tokens of callback (waitForTaskToken) tasks. Entries are kept after they settle so that a late
 * SendTask* call gets the same answer the real service gives (TaskTimedOut / TaskDoesNotExist).
 */
export class TaskTokens {
  private readonly entries = new Map<string, TokenEntry>();

  mint(): string {
    return randomBytes(32).toString('base64url');
  }

  /**
   * Parks a token until SendTaskSuccess/SendTaskFailure. The timer mirrors the engine's own task timeout:
   * it is created first with the same delay, so it fires just before the engine rejects the task with
   * States.Timeout and the token already answers TaskTimedOut by then.
   */
  park(token: string, executionArn: string, timeoutMs: number): Promise<unknown> {
    let settle: Settle | undefined;
    const parked = new Promise<unknown>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // The engine stops listening once the task times out or the execution ends.
    parked.catch(() => undefined);
    const timer = setTimeout(() => this.finish(token, 'timedOut'), timeoutMs);
    timer.unref();
    this.entries.set(token, { state: 'parked', executionArn, settle, timer });
    return parked;
  }

  isParked(token: string): boolean {
    return this.entries.get(token)?.state === 'parked';
  }

  succeed(token: string, output: unknown): void {
    this.parkedSettle(token).resolve(output);
  }

  fail(token: string, error: string, cause: string): void {
    this.parkedSettle(token).reject(new TaskFailure(error, cause));
  }

  heartbeat(token: string): void {
    this.requireParked(token);
  }

  /** Closes a parked token without settling it, e.g. when its Lambda invocation already failed the task. */
  complete(token: string): void {
    this.finish(token, 'completed');
  }

  /** Releases every parked token of an execution that is no longer running. */
  releaseExecution(executionArn: string, reason: Error): void {
    for (const [token, entry] of this.entries) {
      if (entry.executionArn === executionArn && entry.state === 'parked') {
        this.finish(token, 'aborted')?.reject(reason);
      }
    }
  }

  private parkedSettle(token: string): Settle {
    this.requireParked(token);
    const settle = this.finish(token, 'completed');
    if (settle === undefined) throw new ApiError('TaskDoesNotExist', 'Task does not exist anymore');
    return settle;
  }

  private requireParked(token: string): void {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new ApiError('InvalidToken', `Invalid token: length must be between 1 and ${MAX_TOKEN_LENGTH}`);
    }
    const entry = this.entries.get(token);
    if (entry?.state === 'parked') return;
    if (entry?.state === 'timedOut') throw new ApiError('TaskTimedOut', 'Task Timed Out');
    throw new ApiError('TaskDoesNotExist', 'Task does not exist anymore');
  }

  private finish(token: string, state: Exclude<TaskTokenState, 'parked'>): Settle | undefined {
    const entry = this.entries.get(token);
    if (entry?.state !== 'parked') return undefined;
    clearTimeout(entry.timer);
    const { settle } = entry;
    entry.state = state;
    entry.settle = undefined;
    entry.timer = undefined;
    return settle;
  }
}
