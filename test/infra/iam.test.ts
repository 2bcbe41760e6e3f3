import { beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../../lambdas/handlers/catalog.ts';
import { resolveIntrinsics } from '../../lib/render-definition.ts';
import { PSEUDO_REFS, resourceById, resourceIdOf, resourcesOf, synthesize, type SynthesizedStack } from './synth.ts';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
}

const LOGS_AND_TRACES = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
// What the adapters call (Get, BatchGet, Query; Put, Update, Delete, BatchWrite, TransactWrite), no
// more: no Scan, DescribeTable or stream actions, as CDK's grantReadData would add.
const TABLE_READ = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'];
const TABLE_WRITE = ['dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
const TABLE_READ_WRITE = [...TABLE_READ, ...TABLE_WRITE];
const TASK_RESPONSE = ['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess'];
const START_EXECUTION = ['states:StartExecution'];
const STOP_EXECUTION = ['states:StopExecution'];
const SEND_EMAIL = ['ses:SendEmail'];
const PUBLISH_ALERT = ['sns:Publish'];
const READ_LINK_KEY = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];
// The relay: what the DynamoDB event source needs of the stream and of its on-failure queue (as CDK
// grants them), publishing to the bus, and of the table only what the outbox adapter calls.
const READ_STREAM = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];
const SEND_TO_DEAD_LETTERS = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
const PUT_EVENTS = ['events:PutEvents'];
const OUTBOX = ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'];
// Partner webhooks, on the table's items only (see WEBHOOK_ACTIONS): the relay's fan-out, the dispatcher, the routes.
const WEBHOOK_FAN_OUT = ['dynamodb:PutItem', 'dynamodb:Query'];
const WEBHOOK_DISPATCH = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];
const WEBHOOK_MANAGE = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'];
// Queueing a delivery's try; and what the SQS event source needs to hand the dispatcher its messages (as CDK grants it).
const QUEUE_DELIVERY = ['sqs:SendMessage'];
const CONSUME_DELIVERIES = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];

/** Exactly what each function's role may do: the narrowest grant per step. */
const EXPECTED_ACTIONS: Record<string, string[]> = {
  health: [],
  openapi: [],
  'create-transfer': [...TABLE_READ_WRITE, ...START_EXECUTION],
  'check-transfer': TABLE_READ,
  'list-transfers': TABLE_READ,
  'get-transfer': TABLE_READ,
  'get-record': TABLE_READ,
  'get-customer': TABLE_READ,
  decide: [...TABLE_READ_WRITE, ...TASK_RESPONSE],
  'cancel-transfer': [...TABLE_READ_WRITE, ...STOP_EXECUTION, ...SEND_EMAIL],
  'operate-transfer': [...TABLE_READ_WRITE, ...SEND_EMAIL, ...READ_LINK_KEY],
  'approval-page': [...TABLE_READ_WRITE, ...TASK_RESPONSE],
  'manage-webhooks': [...WEBHOOK_MANAGE, ...READ_LINK_KEY, ...QUEUE_DELIVERY],
  'request-approval': [...TABLE_READ_WRITE, ...SEND_EMAIL, ...TASK_RESPONSE, ...READ_LINK_KEY],
  'remind-or-expire': [...TABLE_READ_WRITE, ...SEND_EMAIL, ...READ_LINK_KEY],
  'schedule-transfer': [...TABLE_READ_WRITE, ...SEND_EMAIL],
  'rehome-customers': [...TABLE_READ_WRITE, ...SEND_EMAIL, ...PUBLISH_ALERT],
  'send-confirmations': [...TABLE_READ_WRITE, ...SEND_EMAIL],
  'record-outcome': [...TABLE_READ_WRITE, ...SEND_EMAIL, ...PUBLISH_ALERT],
  'relay-events': [...new Set([...OUTBOX, ...WEBHOOK_FAN_OUT, ...READ_STREAM, ...SEND_TO_DEAD_LETTERS, ...PUT_EVENTS, ...QUEUE_DELIVERY])],
  'deliver-webhooks': [...new Set([...WEBHOOK_DISPATCH, ...READ_LINK_KEY, ...CONSUME_DELIVERIES, ...QUEUE_DELIVERY])],
  // Takes the mail feedback queue's messages like the dispatcher takes its own.
  'record-mail-feedback': [...TABLE_READ_WRITE, ...PUBLISH_ALERT, ...CONSUME_DELIVERIES],
};

let synthesized: SynthesizedStack;

beforeAll(() => {
  synthesized = synthesize();
});

const asList = (action: string | string[]) => (Array.isArray(action) ? action : [action]);

/** Every statement granted to the role of the function with this catalog name. */
function statementsOf(name: string): Statement[] {
  const functionId = synthesized.functionIds[name];
  if (functionId === undefined) throw new Error(`no function ${name}`);
  const role = resourceById(synthesized.template, functionId).Properties?.Role as { 'Fn::GetAtt': [string, string] };
  const roleId = role['Fn::GetAtt'][0];
  const roleProperties = resourceById(synthesized.template, roleId).Properties ?? {};
  const inline = (roleProperties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
  const attached = Object.values(resourcesOf(synthesized.template, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties?.Roles ?? []).includes(JSON.stringify({ Ref: roleId })))
    .map((policy) => policy.Properties?.PolicyDocument as { Statement: Statement[] });
  return [...inline.map((policy) => policy.PolicyDocument), ...attached].flatMap((document) => document.Statement);
}

function actionsOf(name: string): string[] {
  return [...new Set(statementsOf(name).flatMap((statement) => asList(statement.Action)))].sort();
}

/** The resources `name` may perform `action` on, as the template gives them. */
function templateResourcesFor(name: string, action: string): unknown[] {
  return statementsOf(name)
    .filter((statement) => asList(statement.Action).includes(action))
    .flatMap((statement) => (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]));
}

/** The same, as ARN strings of an imaginary deployment (only for resources named without a reference). */
function resourcesFor(name: string, action: string): unknown[] {
  return templateResourcesFor(name, action).map((resource) => resolveIntrinsics(resource, PSEUDO_REFS));
}

describe('function roles', () => {
  it('covers every function', () => {
    expect(Object.keys(EXPECTED_ACTIONS).sort()).toEqual(allFunctions().map(({ name }) => name).sort());
    expect(Object.keys(EXPECTED_ACTIONS)).toHaveLength(22);
  });

  it.each(Object.entries(EXPECTED_ACTIONS))('%s may do exactly what its step needs', (name, expected) => {
    expect(actionsOf(name)).toEqual([...LOGS_AND_TRACES, ...expected].sort());
  });

  it('lets get-customer only read the table', () => {
    const actions = actionsOf('get-customer');
    expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual(TABLE_READ);
    for (const write of ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']) {
      expect(actions).not.toContain(`dynamodb:${write}`);
    }
  });

  it('gives only the emailing steps ses:SendEmail, and only as the sender through the stack\'s configuration set', () => {
    const senders = Object.keys(EXPECTED_ACTIONS).filter((name) => actionsOf(name).includes('ses:SendEmail'));
    expect(senders.sort()).toEqual([
      'cancel-transfer',
      'operate-transfer',
      'record-outcome',
      'rehome-customers',
      'remind-or-expire',
      'request-approval',
      'schedule-transfer',
      'send-confirmations',
    ]);
    for (const name of senders) {
      expect(resourcesFor(name, 'ses:SendEmail').sort()).toEqual([
        'arn:aws:ses:us-east-1:000000000000:configuration-set/TransferTest-mail',
        'arn:aws:ses:us-east-1:000000000000:identity/example.com',
        'arn:aws:ses:us-east-1:000000000000:identity/transfers@example.com',
      ]);
    }
  });

  it('scopes Step Functions actions to the transfer state machine, named without a reference', () => {
    const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:TransferTest-transfer-workflow';
    expect(resourcesFor('create-transfer', 'states:StartExecution')).toEqual([stateMachineArn]);
    for (const name of ['decide', 'approval-page', 'request-approval']) {
      expect(actionsOf(name)).toEqual(expect.arrayContaining(['states:SendTaskSuccess', 'states:SendTaskFailure']));
      expect(resourcesFor(name, 'states:SendTaskSuccess')).toEqual([stateMachineArn]);
    }
  });

  it('lets only cancel-transfer stop executions, and only those of the transfer state machine', () => {
    const stoppers = Object.keys(EXPECTED_ACTIONS).filter((name) => actionsOf(name).includes('states:StopExecution'));
    expect(stoppers).toEqual(['cancel-transfer']);
    expect(resourcesFor('cancel-transfer', 'states:StopExecution')).toEqual([
      'arn:aws:states:us-east-1:000000000000:execution:TransferTest-transfer-workflow:*',
    ]);
  });

  it('lets only record-outcome, rehome-customers and record-mail-feedback publish, to the alert topic only', () => {
    const [topicId] = Object.keys(resourcesOf(synthesized.template, 'AWS::SNS::Topic'));
    const publishers = Object.keys(EXPECTED_ACTIONS).filter((name) => actionsOf(name).includes('sns:Publish'));
    expect(publishers.sort()).toEqual(['record-mail-feedback', 'record-outcome', 'rehome-customers']);
    for (const name of publishers) {
      const publish = statementsOf(name).filter((statement) => asList(statement.Action).includes('sns:Publish'));
      expect(publish.map((statement) => statement.Resource), name).toEqual([{ Ref: topicId }]);
    }
  });

  it('lets only the functions that create or re-send links, or derive webhook secrets, read the approval-link key, and no other secret', () => {
    const secretIds = Object.keys(resourcesOf(synthesized.template, 'AWS::SecretsManager::Secret'));
    expect(secretIds).toHaveLength(1);
    const readers = Object.keys(EXPECTED_ACTIONS).filter((name) => actionsOf(name).includes('secretsmanager:GetSecretValue'));
    expect(readers.sort()).toEqual(['deliver-webhooks', 'manage-webhooks', 'operate-transfer', 'remind-or-expire', 'request-approval']);
    for (const name of readers) {
      for (const action of READ_LINK_KEY) expect(templateResourcesFor(name, action), `${name} ${action}`).toEqual([{ Ref: secretIds[0] }]);
    }
    // Nothing else in the stack may read it either.
    const granted = Object.values(resourcesOf(synthesized.template, 'AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties?.PolicyDocument).includes('secretsmanager:'),
    );
    expect(granted).toHaveLength(5);
  });

  it('lets create-transfer keep its idempotency records in the table', () => {
    const [tableId] = Object.keys(resourcesOf(synthesized.template, 'AWS::DynamoDB::GlobalTable'));
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem']) {
      expect(templateResourcesFor('create-transfer', action), action).toContainEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
    }
  });

  it('lets only the relay read the stream, send to its dead-letter queue and put events, each on that resource only', () => {
    const [tableId] = Object.keys(resourcesOf(synthesized.template, 'AWS::DynamoDB::GlobalTable'));
    const queueId = resourceIdOf(synthesized.stack, synthesized.stack.eventRelay.deadLetterQueue);
    const [busId] = Object.keys(resourcesOf(synthesized.template, 'AWS::Events::EventBus'));
    const onResource = (name: string, action: string, resource: unknown) =>
      templateResourcesFor(name, action).some((granted) => JSON.stringify(granted) === JSON.stringify(resource));
    for (const [actions, resource] of [
      [READ_STREAM, { 'Fn::GetAtt': [tableId, 'StreamArn'] }],
      [SEND_TO_DEAD_LETTERS, { 'Fn::GetAtt': [queueId, 'Arn'] }],
      [PUT_EVENTS, { 'Fn::GetAtt': [busId, 'Arn'] }],
    ] as const) {
      for (const action of actions) {
        expect(Object.keys(EXPECTED_ACTIONS).filter((name) => onResource(name, action, resource)), action).toEqual(['relay-events']);
        // sqs:SendMessage also reaches the webhook deliveries' queue: see webhooks.test.ts.
        const others = action === 'sqs:SendMessage' ? [{ 'Fn::GetAtt': [resourceIdOf(synthesized.stack, synthesized.stack.webhooks.queue), 'Arn'] }] : [];
        expect(templateResourcesFor('relay-events', action), action).toEqual(expect.arrayContaining([resource, ...others]));
        expect(templateResourcesFor('relay-events', action), action).toHaveLength(1 + others.length);
      }
    }
    // The outbox adapter's two calls and the webhook fan-out's two, on the table itself: no index, no other item action.
    const items = [...new Set([...OUTBOX, ...WEBHOOK_FAN_OUT])].sort();
    for (const action of items) expect(templateResourcesFor('relay-events', action), action).toEqual([{ 'Fn::GetAtt': [tableId, 'Arn'] }]);
    expect(actionsOf('relay-events').filter((action) => action.startsWith('dynamodb:') && !READ_STREAM.includes(action))).toEqual(items);
  });

  it('scopes item actions to the table, and only Query to its indexes, each by name', () => {
    const [tableId] = Object.keys(resourcesOf(synthesized.template, 'AWS::DynamoDB::GlobalTable'));
    const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
    const indexArns = ['byParty', 'byPartyStatus'].map((index) => ({ 'Fn::Join': ['', [tableArn, `/index/${index}`]] }));
    for (const name of Object.keys(EXPECTED_ACTIONS)) {
      const statements = statementsOf(name).filter((s) => asList(s.Action).some((a) => a.startsWith('dynamodb:')));
      if (name === 'relay-events') continue; // its own test above
      if (name === 'manage-webhooks' || name === 'deliver-webhooks') {
        // Webhooks and deliveries are found by key, never through an index.
        expect(statements.map((statement) => statement.Resource), name).toEqual([tableArn]);
        continue;
      }
      if (name === 'health' || name === 'openapi') {
        expect(statements).toEqual([]);
        continue;
      }
      const onIndexes = statements.filter((statement) => JSON.stringify(statement.Resource).includes('/index/'));
      const onTable = statements.filter((statement) => !onIndexes.includes(statement));
      expect(onIndexes.map((statement) => [asList(statement.Action), statement.Resource]), name).toEqual([[['dynamodb:Query'], indexArns]]);
      expect(onTable.map((statement) => statement.Resource), name).toEqual([tableArn]);
    }
  });

  it('attaches no managed policy (the basic execution role may write to every log group)', () => {
    for (const name of Object.keys(EXPECTED_ACTIONS)) {
      const functionId = synthesized.functionIds[name] ?? '';
      const role = resourceById(synthesized.template, functionId).Properties?.Role as { 'Fn::GetAtt': [string, string] };
      expect(resourceById(synthesized.template, role['Fn::GetAtt'][0]).Properties?.ManagedPolicyArns, name).toBeUndefined();
    }
  });
});

describe('every policy statement in the stack', () => {
  it('names actions, never "*" or a whole service, except to refuse requests without TLS', () => {
    const documents = Object.values(resourcesOf(synthesized.template)).flatMap((resource) => {
      const properties = resource.Properties ?? {};
      const inline = (properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? [];
      return [properties.PolicyDocument, ...inline.map((policy) => policy.PolicyDocument)].filter((document) => document !== undefined);
    });
    const statements = (documents as { Statement: (Statement & { Condition?: unknown })[] }[]).flatMap((document) => document.Statement);
    // enforceSSL on a queue denies every SQS action without TLS (cdk-nag SQS4 asks for `sqs:*`): a deny, never a grant.
    const refusesPlainText = (statement: Statement & { Condition?: unknown }): boolean =>
      statement.Effect === 'Deny' && JSON.stringify(statement.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } });
    const actions = statements.filter((statement) => !refusesPlainText(statement)).flatMap((statement) => asList(statement.Action));
    expect(actions.length).toBeGreaterThan(50);
    for (const action of actions) expect(action).not.toMatch(/^\*$|:\*$/);
    // The alert topic, and the three queues: the relay's dead letters, the webhook deliveries and theirs.
    expect(statements.filter(refusesPlainText).flatMap((statement) => asList(statement.Action)).sort()).toEqual(['sns:Publish', 'sqs:*', 'sqs:*', 'sqs:*', 'sqs:*', 'sqs:*']);
  });
});
