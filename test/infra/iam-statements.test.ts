import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOW_FUNCTIONS } from '../../lambdas/handlers/catalog.ts';
import { flattenReference } from '../../lib/acknowledgements.ts';
import { asList, resourceById, resourcesOf, roleIdOf, statementsOfRole, synthesize, type Statement, type SynthesizedStack } from './synth.ts';

/** One role with every statement that applies to it. */
interface RoleStatements {
  /** Who assumes the role: a function's kebab-case name, or `state machine`. */
  owner: string;
  roleId: string;
  statements: Statement[];
}

/**
 * The only actions granted on `"*"`, each because it supports no resource-level permissions (see
 * the Service Authorization Reference): X-Ray's, which tracing grants to every function and the
 * state machine, and CloudWatch Logs' log-delivery actions, which Step Functions needs to log
 * executions to a log group. Anything else on `"*"` fails the test.
 */
const RESOURCELESS_ACTIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

const actionsOf = (statement: Statement): string[] => asList(statement.Action) as string[];
const resourcesOfStatement = (statement: Statement): string[] => asList(statement.Resource).map((resource) => flattenReference(resource));

let synthesized: SynthesizedStack;
let roles: RoleStatements[];

/** The statements as a table, one row per statement: role → actions → resources. */
function table(rows: RoleStatements[]): string {
  const lines = ['| role | effect | actions | resources |', '|---|---|---|---|'];
  for (const role of rows) {
    role.statements.forEach((statement, index) => {
      const who = index === 0 ? `${role.owner} (${role.roleId})` : '';
      lines.push(`| ${who} | ${statement.Effect} | ${actionsOf(statement).join(', ')} | ${resourcesOfStatement(statement).join(', ')} |`);
    });
  }
  return lines.join('\n');
}

beforeAll(() => {
  synthesized = synthesize();
  const owners = new Map(Object.entries(synthesized.functionIds).map(([name, logicalId]) => [logicalId, name]));
  const functionRoles = Object.entries(resourcesOf(synthesized.template, 'AWS::Lambda::Function')).map(([logicalId, fn]) => {
    const roleId = roleIdOf(fn, 'Role');
    return { owner: owners.get(logicalId) ?? logicalId, roleId, statements: statementsOfRole(synthesized.template, roleId) };
  });
  const machineRoles = Object.values(resourcesOf(synthesized.template, 'AWS::StepFunctions::StateMachine')).map((machine) => {
    const roleId = roleIdOf(machine, 'RoleArn');
    return { owner: 'state machine', roleId, statements: statementsOfRole(synthesized.template, roleId) };
  });
  const rolloutRoles = [...new Set(Object.values(resourcesOf(synthesized.template, 'AWS::CodeDeploy::DeploymentGroup')).map((group) => roleIdOf(group, 'ServiceRoleArn')))].map(
    (roleId) => ({ owner: 'CodeDeploy', roleId, statements: statementsOfRole(synthesized.template, roleId) }),
  );
  roles = [...functionRoles, ...machineRoles, ...rolloutRoles];
  console.log(`IAM statements of every function role, the state machine role and the CodeDeploy role:\n${table(roles)}`);
});

describe('IAM statements of the function, state machine and CodeDeploy roles', () => {
  it('cover every function, the state machine and CodeDeploy, each with a role of its own, and every policy in the stack', () => {
    expect(roles.filter((role) => role.owner !== 'state machine' && role.owner !== 'CodeDeploy').map((role) => role.owner).sort()).toEqual(
      Object.keys(synthesized.functionIds).sort(),
    );
    expect(roles.filter((role) => role.owner === 'state machine')).toHaveLength(1);
    expect(roles.filter((role) => role.owner === 'CodeDeploy')).toHaveLength(1);
    expect(new Set(roles.map((role) => role.roleId)).size).toBe(roles.length);
    // No role or policy outside these: the enumeration above is the stack's whole IAM.
    expect(Object.keys(resourcesOf(synthesized.template, 'AWS::IAM::Role')).sort()).toEqual(roles.map((role) => role.roleId).sort());
    const covered = new Set(roles.map((role) => JSON.stringify({ Ref: role.roleId })));
    for (const [policyId, policy] of Object.entries(resourcesOf(synthesized.template, 'AWS::IAM::Policy'))) {
      const attachedTo = asList(policy.Properties?.Roles).map((role) => JSON.stringify(role));
      expect(attachedTo.length, policyId).toBeGreaterThan(0);
      for (const role of attachedTo) expect(covered.has(role), `${policyId} attaches to ${role}`).toBe(true);
      expect(policy.Properties?.Users ?? policy.Properties?.Groups, policyId).toBeUndefined();
    }
    for (const type of ['AWS::IAM::ManagedPolicy', 'AWS::IAM::User', 'AWS::IAM::Group']) {
      expect(resourcesOf(synthesized.template, type), type).toEqual({});
    }
  });

  it('attach no managed policy to any of these roles', () => {
    for (const role of roles) {
      expect(resourceById(synthesized.template, role.roleId).Properties?.ManagedPolicyArns, role.owner).toBeUndefined();
    }
  });

  it('only allow, and name their actions and resources (no NotAction, NotResource or principals)', () => {
    for (const role of roles) {
      expect(role.statements.length, role.owner).toBeGreaterThan(0);
      for (const statement of role.statements) {
        expect(statement.Effect, role.owner).toBe('Allow');
        for (const key of ['NotAction', 'NotResource', 'Principal', 'NotPrincipal'] as const) {
          expect(statement[key], `${role.owner} ${key}`).toBeUndefined();
        }
        expect(actionsOf(statement).length, role.owner).toBeGreaterThan(0);
        expect(resourcesOfStatement(statement).length, role.owner).toBeGreaterThan(0);
      }
    }
  });

  it('grant no wildcard action: no "*", no "service:*", no prefix like "dynamodb:Get*"', () => {
    const actions = roles.flatMap((role) => role.statements.flatMap((statement) => actionsOf(statement).map((action) => `${role.owner}: ${action}`)));
    expect(actions.length).toBeGreaterThan(100);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    // Every action is one exact `service:Action` name.
    expect(actions.filter((action) => !/: [a-z0-9-]+:[A-Z][A-Za-z0-9]+$/.test(action))).toEqual([]);
  });

  it('grant "*" as a resource only for actions that support no resource-level permissions', () => {
    for (const role of roles) {
      for (const statement of role.statements.filter((s) => resourcesOfStatement(s).includes('*'))) {
        expect(resourcesOfStatement(statement), role.owner).toEqual(['*']);
        expect(actionsOf(statement).filter((action) => !RESOURCELESS_ACTIONS.has(action)), role.owner).toEqual([]);
      }
    }
  });

  it('grant no other wildcard resource than the executions cancel-transfer may stop', () => {
    const wildcards = roles.flatMap((role) =>
      role.statements.flatMap((statement) =>
        resourcesOfStatement(statement)
          .filter((resource) => resource !== '*' && resource.includes('*'))
          .map((resource) => `${role.owner}: ${actionsOf(statement).join(',')} on ${resource}`),
      ),
    );
    expect(wildcards).toEqual([
      'cancel-transfer: states:StopExecution on arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:TransferTest-transfer-workflow:*',
    ]);
  });

  it("let the state machine invoke its six functions' live aliases, and nothing else but logs and traces", () => {
    const [machine] = roles.filter((role) => role.owner === 'state machine');
    const invoke = machine?.statements.filter((statement) => actionsOf(statement).includes('lambda:InvokeFunction')) ?? [];
    expect(invoke.map(actionsOf)).toEqual([['lambda:InvokeFunction']]);
    // `Ref` of an alias is its ARN, `<function ARN>:live`.
    const aliasArns = Object.values(WORKFLOW_FUNCTIONS).map((name) => `<${synthesized.aliasIds[name]}>`);
    expect(invoke.flatMap(resourcesOfStatement).sort()).toEqual(aliasArns.sort());
    const others = machine?.statements.filter((statement) => !invoke.includes(statement)).flatMap(actionsOf) ?? [];
    expect(others.filter((action) => !RESOURCELESS_ACTIONS.has(action))).toEqual([]);
  });
});
