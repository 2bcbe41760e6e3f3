import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { WORKFLOW_FUNCTIONS, handlerEntry, type WorkflowFunctionKey } from '../../lambdas/handlers/catalog.ts';
import { acknowledge } from '../acknowledgements.ts';
import { WORKFLOW_COMMENT, WORKFLOW_QUERY_LANGUAGE } from '../render-definition.ts';
import { buildTransferWorkflow, type WorkflowFunctions } from '../workflow-definition.ts';
import type { ApprovalLinkKey } from './approval-link-key.ts';
import type { Mailer } from './mailer.ts';
import { constructIdFor, TransferFunction, type TransferFunctionEnvironment } from './transfer-function.ts';
import { grantTableAccess } from './transfer-table.ts';

/** Step Functions' limit on a state machine name. */
const MAX_NAME_LENGTH = 80;

/**
 * The state machine's name, fixed per stack. Functions learn the ARN from the name rather than
 * from the resource: the HTTP functions sit behind the API whose URL the workflow's
 * request-approval function needs, so a reference would close a dependency cycle.
 */
export function transferStateMachineName(scope: Construct): string {
  const stackName = Stack.of(scope).stackName;
  if (Token.isUnresolved(stackName)) throw new Error('The transfer workflow needs a stack with a literal name.');
  return `${stackName}-transfer-workflow`.slice(0, MAX_NAME_LENGTH);
}

/** The ARN of the stack's transfer state machine, without a reference to the resource (see {@link transferStateMachineName}). */
export function transferStateMachineArn(scope: Construct): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: transferStateMachineName(scope),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * The ARN pattern of the stack's transfer executions (`...:execution:<stateMachineName>:*`), built
 * from the fixed name like {@link transferStateMachineArn}.
 */
export function transferExecutionArns(scope: Construct): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${transferStateMachineName(scope)}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Lets `grantee` start transfer executions (`states:StartExecution`) on the state machine at `stateMachineArn` only. */
export function grantStartExecution(grantee: iam.IGrantable, stateMachineArn: string): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: ['states:StartExecution'], resourceArns: [stateMachineArn] });
}

/** Lets `grantee` stop (`states:StopExecution`) executions of the transfer state machine, and of no other. */
export function grantStopExecution(grantee: iam.IGrantable, executionArns: string): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: ['states:StopExecution'], resourceArns: [executionArns] });
}

/**
 * Lets `grantee` answer a waiting release or acceptance with its task token, as the state
 * machine's own `grantTaskResponse` does, but by ARN.
 */
export function grantTaskResponse(grantee: iam.IGrantable, stateMachineArn: string): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
    resourceArns: [stateMachineArn],
  });
}

/** What each workflow function may do beyond writing its own logs. */
interface WorkflowAccess {
  readonly sendEmail: boolean;
  readonly taskResponse: boolean;
  readonly publishAlerts: boolean;
  /** Reads the approval-link key: the steps that create or re-send a link. */
  readonly linkKey: boolean;
  readonly timeout?: Duration;
  readonly description: string;
}

// Every workflow step records into the transfer, so each reads and writes the table.
const WORKFLOW_ACCESS: Record<WorkflowFunctionKey, WorkflowAccess> = {
  requestApproval: {
    sendEmail: true,
    taskResponse: true,
    publishAlerts: false,
    linkKey: true,
    description: 'Stores the task token of a waiting release or acceptance and emails the approval link',
  },
  remindOrExpire: {
    sendEmail: true,
    taskResponse: false,
    publishAlerts: false,
    linkKey: true,
    description: 'Re-sends the same approval link as a reminder, or expires the transfer once its window is over',
  },
  scheduleTransfer: {
    sendEmail: true,
    taskResponse: false,
    publishAlerts: false,
    linkKey: false,
    description: 'Records the agreed transfer date and escalates it to DevOps',
  },
  rehomeCustomers: {
    // A permanent failure is recorded here, with the partners told and operators alerted; the
    // execution then stops on this step so that a redrive can finish it.
    sendEmail: true,
    taskResponse: false,
    publishAlerts: true,
    linkKey: false,
    // Up to 50 customers, one transaction each.
    timeout: Duration.minutes(2),
    description: 'Moves ownership of each customer to the new partner; records a permanent failure and alerts operators',
  },
  sendConfirmations: {
    sendEmail: true,
    taskResponse: false,
    publishAlerts: false,
    linkKey: false,
    timeout: Duration.minutes(1),
    description: 'Emails the completed transfer to both partners',
  },
  recordOutcome: {
    sendEmail: true,
    taskResponse: false,
    publishAlerts: true,
    linkKey: false,
    description: 'Records a declined transfer or a failed confirmation, notifies the partners and alerts operators',
  },
};

/** Properties of a {@link TransferWorkflow}. */
export interface TransferWorkflowProps {
  /** The deployment facts every function receives; `stateMachineArn` must be {@link transferStateMachineArn}. */
  readonly environment: TransferFunctionEnvironment;
  /** The single table. */
  readonly table: dynamodb.ITableV2;
  /** Scopes who may send email as the sender. */
  readonly mailer: Mailer;
  /** The operators' alert topic, published to by record-outcome and rehome-customers. */
  readonly alertTopic: sns.ITopic;
  /** The approval-link key, read by request-approval and remind-or-expire; `environment` must carry its ARN. */
  readonly approvalLinkKey: ApprovalLinkKey;
  /**
   * How long execution logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The transfer workflow: the Standard state machine built by `buildTransferWorkflow` (the very
 * definition the local engine runs) and the functions it invokes, each granted only what
 * its step needs.
 */
export class TransferWorkflow extends Construct {
  /** The Standard state machine, named {@link transferStateMachineName}. */
  readonly stateMachine: sfn.StateMachine;
  /** The functions the state machine invokes, by their key in `WORKFLOW_FUNCTIONS`. */
  readonly functions: Readonly<Record<WorkflowFunctionKey, TransferFunction>>;

  constructor(scope: Construct, id: string, props: TransferWorkflowProps) {
    super(scope, id);
    const stateMachineName = transferStateMachineName(this);
    const stateMachineArn = transferStateMachineArn(this);
    if (props.environment.stateMachineArn !== stateMachineArn) {
      throw new Error('environment.stateMachineArn must be transferStateMachineArn(stack), the name this workflow deploys under.');
    }
    if (props.environment.approvalLinkKeySecretArn !== props.approvalLinkKey.secretArn) {
      throw new Error('environment.approvalLinkKeySecretArn must be the ARN of approvalLinkKey, the key the workflow may read.');
    }

    const functions = {} as Record<WorkflowFunctionKey, TransferFunction>;
    // Each step invokes its function's `live` alias.
    const aliases = {} as WorkflowFunctions;
    for (const key of Object.keys(WORKFLOW_FUNCTIONS) as WorkflowFunctionKey[]) {
      const name = WORKFLOW_FUNCTIONS[key];
      const access = WORKFLOW_ACCESS[key];
      const fn = new TransferFunction(this, constructIdFor(name), {
        entry: handlerEntry('workflow', name),
        description: access.description,
        environment: props.environment,
        timeout: access.timeout,
      });
      grantTableAccess(props.table, fn, 'readWrite');
      if (access.sendEmail) props.mailer.grantSendEmail(fn);
      if (access.taskResponse) grantTaskResponse(fn, stateMachineArn);
      if (access.publishAlerts) props.alertTopic.grantPublish(fn);
      if (access.linkKey) props.approvalLinkKey.grantRead(fn);
      functions[key] = fn;
      aliases[key] = fn.live;
    }
    this.functions = functions;

    // States get their own scope so that state names never collide with our construct ids.
    const definition = buildTransferWorkflow(new Construct(this, 'Definition'), aliases);
    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      // The vendedlogs prefix keeps CloudWatch Logs' resource policy from growing with every log group.
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      // Retained, the fixed name would fail the deploy after `cdk destroy` ("already exists"); the history is in the table.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      queryLanguage: WORKFLOW_QUERY_LANGUAGE,
      comment: WORKFLOW_COMMENT,
      tracingEnabled: true,
      // Execution data carries task tokens, which must never reach a log.
      logs: { destination: executionLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // Logging and tracing put these on the role's policy; CloudWatch Logs' log-delivery actions and
    // X-Ray's support no resource-level permissions. Only that "*" is accepted: the IAM statements
    // test allows "*" for no other action.
    const rolePolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (rolePolicy !== undefined) {
      acknowledge(
        rolePolicy,
        'AwsSolutions-IAM5[Resource::*]',
        'Execution logging and X-Ray tracing: logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups and xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets support no resource-level permissions.',
      );
    }
  }
}
