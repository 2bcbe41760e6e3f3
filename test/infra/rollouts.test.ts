import { beforeAll, describe, expect, it } from 'vitest';
import { HTTP_FUNCTIONS, LIVE_ALIAS } from '../../lambdas/handlers/catalog.ts';
import { flattenReference } from '../../lib/acknowledgements.ts';
import { CANARY_DEPLOYMENT_CONFIG } from '../../lib/constructs/rollouts.ts';
import { asList, resourceById, resourceIdOf, resourcesOf, roleIdOf, statementsOfRole, synthesize, type SynthesizedStack, type TemplateResource } from './synth.ts';

let synthesized: SynthesizedStack;
/** Each HTTP function's error alarm, as a logical id. */
let errorAlarmIds: Record<string, string>;

beforeAll(() => {
  synthesized = synthesize();
  errorAlarmIds = Object.fromEntries(
    HTTP_FUNCTIONS.map((name) => {
      const alarm = synthesized.stack.alarms.functionErrors[name];
      if (alarm === undefined) throw new Error(`no error alarm for ${name}`);
      return [name, resourceIdOf(synthesized.stack, alarm)];
    }),
  );
});

const aliasOf = (name: string): TemplateResource => resourceById(synthesized.template, synthesized.aliasIds[name] ?? '');

/** The deployment group an alias's update policy hands it to, or undefined. */
function deploymentGroupOf(name: string): TemplateResource | undefined {
  const policy = (aliasOf(name) as { UpdatePolicy?: { CodeDeployLambdaAliasUpdate?: { DeploymentGroupName?: { Ref?: string } } } }).UpdatePolicy;
  const groupId = policy?.CodeDeployLambdaAliasUpdate?.DeploymentGroupName?.Ref;
  return groupId === undefined ? undefined : resourceById(synthesized.template, groupId);
}

describe('versions and aliases', () => {
  it('give every function one live alias, on a version of that function published from this deployment', () => {
    const aliases = resourcesOf(synthesized.template, 'AWS::Lambda::Alias');
    expect(Object.keys(aliases).sort()).toEqual(Object.values(synthesized.aliasIds).sort());
    for (const [name, functionId] of Object.entries(synthesized.functionIds)) {
      const alias = aliasOf(name).Properties ?? {};
      expect(alias.Name, name).toBe(LIVE_ALIAS);
      expect(alias.FunctionName, name).toEqual({ Ref: functionId });
      const versionId = (alias.FunctionVersion as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const version = resourceById(synthesized.template, versionId);
      expect(version.Type, name).toBe('AWS::Lambda::Version');
      expect(version.Properties?.FunctionName, name).toEqual({ Ref: functionId });
    }
  });

  it('are what every caller invokes: no permission, event source or integration names a function unqualified', () => {
    const aliasRefs = new Set(Object.values(synthesized.aliasIds).map((id) => JSON.stringify({ Ref: id })));
    const functionIds = new Set(Object.values(synthesized.functionIds));
    const permissions = Object.values(resourcesOf(synthesized.template, 'AWS::Lambda::Permission'));
    expect(permissions.length).toBeGreaterThanOrEqual(HTTP_FUNCTIONS.length);
    for (const permission of permissions) expect(aliasRefs.has(JSON.stringify(permission.Properties?.FunctionName)), JSON.stringify(permission.Properties)).toBe(true);
    for (const integration of Object.values(resourcesOf(synthesized.template, 'AWS::ApiGatewayV2::Integration'))) {
      expect(aliasRefs.has(JSON.stringify(integration.Properties?.IntegrationUri))).toBe(true);
    }
    const mappings = Object.values(resourcesOf(synthesized.template, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(3);
    for (const mapping of mappings) {
      const named = flattenReference(mapping.Properties?.FunctionName);
      expect(named).toMatch(new RegExp(`:${LIVE_ALIAS}$`));
      expect([...functionIds].some((id) => named.includes(`<${id}`))).toBe(false);
    }
  });
});

describe('canary rollouts', () => {
  it('hand the live alias of each API function, and of no other, to its own CodeDeploy deployment group', () => {
    const [applicationId, ...others] = Object.keys(resourcesOf(synthesized.template, 'AWS::CodeDeploy::Application'));
    expect(others).toEqual([]);
    expect(resourceById(synthesized.template, applicationId ?? '').Properties?.ComputePlatform).toBe('Lambda');
    const groups = resourcesOf(synthesized.template, 'AWS::CodeDeploy::DeploymentGroup');
    expect(Object.keys(groups)).toHaveLength(HTTP_FUNCTIONS.length);
    for (const name of Object.keys(synthesized.functionIds)) {
      const group = deploymentGroupOf(name);
      if (!(HTTP_FUNCTIONS as readonly string[]).includes(name)) {
        expect(group, name).toBeUndefined();
        continue;
      }
      expect(group?.Properties?.ApplicationName, name).toEqual({ Ref: applicationId });
      const policy = (aliasOf(name) as { UpdatePolicy?: { CodeDeployLambdaAliasUpdate?: { ApplicationName?: unknown } } }).UpdatePolicy;
      expect(policy?.CodeDeployLambdaAliasUpdate?.ApplicationName, name).toEqual({ Ref: applicationId });
    }
    const handedOver = HTTP_FUNCTIONS.map((name) => JSON.stringify(deploymentGroupOf(name)));
    expect(new Set(handedOver).size).toBe(HTTP_FUNCTIONS.length);
  });

  it.each([...HTTP_FUNCTIONS])('move %s to a new version a tenth of the calls first, for 5 minutes, and roll back when its error alarm fires or the deployment fails', (name) => {
    const group = deploymentGroupOf(name)?.Properties ?? {};
    expect(CANARY_DEPLOYMENT_CONFIG).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
    expect(group.DeploymentConfigName).toBe(CANARY_DEPLOYMENT_CONFIG);
    expect(group.DeploymentStyle).toEqual({ DeploymentType: 'BLUE_GREEN', DeploymentOption: 'WITH_TRAFFIC_CONTROL' });
    expect(group.AlarmConfiguration).toEqual({ Enabled: true, Alarms: [{ Name: { Ref: errorAlarmIds[name] } }] });
    expect(group.AutoRollbackConfiguration).toEqual({ Enabled: true, Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'] });
    // The alarm watched is this function's errors, and it fires on the first one.
    const alarm = resourceById(synthesized.template, errorAlarmIds[name] ?? '').Properties ?? {};
    expect(alarm).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1, EvaluationPeriods: 1 });
    expect(alarm.Dimensions).toEqual([{ Name: 'FunctionName', Value: { Ref: synthesized.functionIds[name] } }]);
  });

  it('run as a role CodeDeploy alone assumes, which may move these aliases and read these alarms, and nothing else', () => {
    const roleIds = new Set(Object.values(resourcesOf(synthesized.template, 'AWS::CodeDeploy::DeploymentGroup')).map((group) => roleIdOf(group, 'ServiceRoleArn')));
    expect(roleIds.size).toBe(1);
    const [roleId = ''] = roleIds;
    const role = resourceById(synthesized.template, roleId).Properties ?? {};
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'codedeploy.amazonaws.com' } }],
    });
    expect(role.ManagedPolicyArns).toBeUndefined();
    const granted = statementsOfRole(synthesized.template, roleId).map((statement) => ({
      effect: statement.Effect,
      actions: (asList(statement.Action) as string[]).sort(),
      resources: asList(statement.Resource).map((resource) => flattenReference(resource)).sort(),
    }));
    expect(granted).toEqual([
      {
        effect: 'Allow',
        actions: ['lambda:GetAlias', 'lambda:GetProvisionedConcurrencyConfig', 'lambda:UpdateAlias'],
        resources: HTTP_FUNCTIONS.map((name) => `<${synthesized.functionIds[name]}.Arn>:${LIVE_ALIAS}`).sort(),
      },
      { effect: 'Allow', actions: ['cloudwatch:DescribeAlarms'], resources: HTTP_FUNCTIONS.map((name) => `<${errorAlarmIds[name]}.Arn>`).sort() },
    ]);
  });

  it('leave no cycle: the role names the aliases by their function ARNs, not by reference', () => {
    const [roleId = ''] = new Set(Object.values(resourcesOf(synthesized.template, 'AWS::CodeDeploy::DeploymentGroup')).map((group) => roleIdOf(group, 'ServiceRoleArn')));
    const statements = JSON.stringify(statementsOfRole(synthesized.template, roleId));
    for (const aliasId of Object.values(synthesized.aliasIds)) expect(statements).not.toContain(`"${aliasId}"`);
  });
});
