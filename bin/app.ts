#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { chooseStage, stackIdFor } from '../lib/stages.ts';
import { TransferStack } from '../lib/transfer-stack.ts';

const app = new App();

// `-c stage=NAME`: the stack CustomerTransfer-NAME with cdk.json's stages.NAME; a stage that is not
// ready stops here with one line naming what to set.
const choice = chooseStage((key) => app.node.tryGetContext(key));
if ('problem' in choice) {
  console.error(choice.problem);
  process.exit(1);
}

// Account and region come from the CLI's profile; without one the stack stays environment-agnostic.
new TransferStack(app, stackIdFor(choice.stage), {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `Customer Transfer Workflow${choice.stage ? ` (${choice.stage})` : ''}: moves a customer between partners with both partners' written consent`,
});

// cdk-nag's AwsSolutions rules run on every synth; an unacknowledged error fails it. Findings that
// are accepted by design are acknowledged on the construct they concern, with the reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
