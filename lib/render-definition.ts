import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { LIVE_ALIAS, WORKFLOW_FUNCTIONS, type WorkflowFunctionKey } from '../lambdas/handlers/catalog.ts';
import { buildTransferWorkflow, type WorkflowFunctions } from './workflow-definition.ts';

/** Settings the stack's StateMachine and the local rendering share, so both produce the same document. */
export const WORKFLOW_QUERY_LANGUAGE = sfn.QueryLanguage.JSON_PATH;
export const WORKFLOW_COMMENT = 'Customer transfer: written release, written acceptance, sleep until the date, re-home, confirm.';

/**
 * Renders the state machine definition as concrete ASL, with each Lambda's ARN given by `arnFor`;
 * each step invokes the function's `live` alias, as the deployed definition does.
 * The local Step Functions API runs exactly this document.
 */
export function renderWorkflowDefinition(arnFor: (functionName: string) => string): Record<string, unknown> {
  const stack = new Stack(new App(), 'WorkflowRendering', { env: { account: '000000000000', region: 'us-east-1' } });
  const functions = Object.fromEntries(
    (Object.keys(WORKFLOW_FUNCTIONS) as WorkflowFunctionKey[]).map((key) => [
      key,
      lambda.Function.fromFunctionArn(stack, key, `${arnFor(WORKFLOW_FUNCTIONS[key])}:${LIVE_ALIAS}`),
    ]),
  ) as WorkflowFunctions;
  const chain = buildTransferWorkflow(stack, functions);
  const graph = new sfn.StateGraph(chain.startState, 'Transfer workflow');
  const document = { ...graph.toGraphJson(WORKFLOW_QUERY_LANGUAGE), Comment: WORKFLOW_COMMENT, QueryLanguage: WORKFLOW_QUERY_LANGUAGE };
  return resolveIntrinsics(stack.resolve(document), { 'AWS::Partition': 'aws' }) as Record<string, unknown>;
}

/**
 * Replaces the CloudFormation intrinsics a definition holds (`Ref`, `Fn::GetAtt`, `Fn::Join`) with
 * concrete strings, so a synthesized definition and a rendered one can be compared or run.
 */
export function resolveIntrinsics(value: unknown, refs: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, refs));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [key, argument] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Ref' && typeof argument === 'string') {
    return lookup(refs, argument);
  }
  if (entries.length === 1 && key === 'Fn::GetAtt' && Array.isArray(argument)) {
    return lookup(refs, argument.join('.'));
  }
  if (entries.length === 1 && key === 'Fn::Join' && Array.isArray(argument)) {
    const [separator, parts] = argument as [string, unknown[]];
    return parts.map((part) => resolveIntrinsics(part, refs)).join(separator);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, refs)]));
}

function lookup(refs: Record<string, string>, name: string): string {
  const found = refs[name];
  if (found === undefined) throw new Error(`No value given for ${name}`);
  return found;
}
