import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { LIVE_ALIAS } from '../../lambdas/handlers/catalog.ts';
import { constructIdFor, type TransferFunction } from './transfer-function.ts';

/** CodeDeploy's predefined canary: 10% of the traffic on the new version for 5 minutes, then all of it. */
export const CANARY_DEPLOYMENT_CONFIG = 'CodeDeployDefault.LambdaCanary10Percent5Minutes';

/** Properties of {@link CanaryRollouts}. */
export interface CanaryRolloutsProps {
  /** The functions rolled out step by step, by their kebab-case name. */
  readonly functions: Readonly<Record<string, TransferFunction>>;
  /** Each function's error alarm, by the same name: while it fires, the rollout stops and rolls back. */
  readonly errorAlarms: Readonly<Record<string, cloudwatch.IAlarm>>;
  /**
   * How traffic moves to a new version.
   * @default CANARY_DEPLOYMENT_CONFIG
   */
  readonly deploymentConfigName?: string;
}

/**
 * Safe rollouts of the functions partners call: when a deployment publishes a new version of one of
 * them, CloudFormation hands the move of its `live` alias to CodeDeploy, which sends 10% of the calls to
 * the new version for 5 minutes, then all of them; if the function's error alarm fires meanwhile (or
 * the deployment fails), CodeDeploy points the alias back at the previous version and the stack update
 * fails. One CodeDeploy application, one deployment group per function, and one service role that may
 * only read and move these aliases and read these alarms.
 */
export class CanaryRollouts extends Construct {
  readonly application: codedeploy.CfnApplication;
  /** The role CodeDeploy assumes; it names each alias and alarm it may touch. */
  readonly role: iam.Role;
  /** Each function's deployment group, by its kebab-case name. */
  readonly deploymentGroups: Readonly<Record<string, codedeploy.CfnDeploymentGroup>>;

  constructor(scope: Construct, id: string, props: CanaryRolloutsProps) {
    super(scope, id);
    const entries = Object.entries(props.functions);
    const alarmOf = (name: string): cloudwatch.IAlarm => {
      const alarm = props.errorAlarms[name];
      if (alarm === undefined) throw new Error(`The ${name} function has no error alarm to roll back on.`);
      return alarm;
    };

    this.application = new codedeploy.CfnApplication(this, 'Application', { computePlatform: 'Lambda' });
    // Alias ARNs spelled from the function ARNs: a reference to an alias would make the role depend on
    // the aliases, whose update policy depends on the deployment groups, which depend on the role.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('codedeploy.amazonaws.com'),
      description: 'Lets CodeDeploy move the live aliases of the customer transfer API functions',
      inlinePolicies: {
        MoveLiveAliases: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:GetProvisionedConcurrencyConfig'],
              resources: entries.map(([, fn]) => `${fn.functionArn}:${LIVE_ALIAS}`),
            }),
            new iam.PolicyStatement({
              actions: ['cloudwatch:DescribeAlarms'],
              resources: entries.map(([name]) => alarmOf(name).alarmArn),
            }),
          ],
        }),
      },
    });

    const groups: Record<string, codedeploy.CfnDeploymentGroup> = {};
    for (const [name, fn] of entries) {
      const group = new codedeploy.CfnDeploymentGroup(this, constructIdFor(name), {
        applicationName: this.application.ref,
        serviceRoleArn: this.role.roleArn,
        deploymentConfigName: props.deploymentConfigName ?? CANARY_DEPLOYMENT_CONFIG,
        deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
        alarmConfiguration: { enabled: true, alarms: [{ name: alarmOf(name).alarmName }] },
        autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'] },
      });
      const alias = fn.live.node.defaultChild as lambda.CfnAlias;
      alias.cfnOptions.updatePolicy = {
        codeDeployLambdaAliasUpdate: { applicationName: this.application.ref, deploymentGroupName: group.ref },
      };
      groups[name] = group;
    }
    this.deploymentGroups = groups;
  }
}
