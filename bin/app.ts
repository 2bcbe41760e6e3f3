#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TransferStack } from '../lib/transfer-stack.ts';

const app = new App();

// Account and region come from the CLI's profile; without one the stack stays environment-agnostic.
new TransferStack(app, 'CustomerTransfer', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: "Customer Transfer Workflow: moves a customer between partners with both partners' written consent",
});

// cdk-nag's AwsSolutions rules run on every synth; an unacknowledged error fails it. Findings that
// are accepted by design are acknowledged on the construct they concern, with the reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
