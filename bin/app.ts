#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { TransferStack } from '../lib/transfer-stack.ts';

const app = new App();

// Account and region come from the CLI's profile; without one the stack stays environment-agnostic.
new TransferStack(app, 'CustomerTransfer', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: "Customer Transfer Workflow: moves a customer between partners with both partners' written consent",
});
