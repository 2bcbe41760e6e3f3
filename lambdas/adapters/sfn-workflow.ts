import { SendTaskFailureCommand, SendTaskSuccessCommand, StartExecutionCommand, StopExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Config } from '../config.ts';
import type { WorkflowPort, WorkflowSignal } from '../domain/ports.ts';
import { asTransient } from './transient.ts';

/** A task that finished, timed out or never existed can no longer take a signal. */
const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

/** The workflow adapter of a function that starts, stops or answers executions (see `Adapters` in composition.ts). */
export function stepFunctionsWorkflow(config: Pick<Config, 'STATE_MACHINE_ARN'>): WorkflowPort {
  return new StepFunctionsWorkflow(new SFNClient({}), config.STATE_MACHINE_ARN);
}

export class StepFunctionsWorkflow implements WorkflowPort {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(transferId: string, input: Record<string, unknown>): Promise<void> {
    await asTransient(() =>
      this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: transferId, input: JSON.stringify(input) })),
    );
  }

  async stop(transferId: string, cause: string): Promise<boolean> {
    // The execution is named after the transfer, so its ARN follows from the state machine's.
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${transferId}`;
    try {
      await asTransient(() => this.sfn.send(new StopExecutionCommand({ executionArn, error: 'TransferCancelled', cause })));
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return false;
      throw error;
    }
  }

  async signal(taskToken: string, signal: WorkflowSignal): Promise<'delivered' | 'gone'> {
    try {
      await asTransient(async () => {
        if (signal.kind === 'success') {
          await this.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(signal.output) }));
        } else {
          await this.sfn.send(new SendTaskFailureCommand({ taskToken, error: signal.error, cause: signal.cause }));
        }
      });
      return 'delivered';
    } catch (error) {
      if (error instanceof Error && GONE.has(error.name)) return 'gone';
      throw error;
    }
  }
}
