import { readFileSync } from 'node:fs';
import { App, CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { LIVE_ALIAS } from '../../lambdas/handlers/catalog.ts';
import { TransferStack } from '../../lib/transfer-stack.ts';

/** The feature flags `cdk synth` runs with, so tests see the template that deploys. */
export function featureFlags(): Record<string, unknown> {
  const cdkJson: unknown = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
  if (typeof cdkJson !== 'object' || cdkJson === null || !('context' in cdkJson)) throw new Error('cdk.json has no context');
  const context = cdkJson.context;
  if (typeof context !== 'object' || context === null) throw new Error('cdk.json context is not an object');
  return Object.fromEntries(Object.entries(context).filter(([key]) => key.startsWith('@aws-cdk')));
}

export interface SynthesizedStack {
  stack: TransferStack;
  template: Template;
  /** Logical id of every function, by its kebab-case name (`create-transfer`, `rehome-customers`, `relay-events`, `deliver-webhooks`, ...). */
  functionIds: Record<string, string>;
  /** Logical id of every function's `live` alias (what its callers invoke), by the function's kebab-case name. */
  aliasIds: Record<string, string>;
}

/**
 * Synthesizes the stack without bundling (tests check the template, not the code). `context`
 * plays the part of `cdk.json` values or `-c key=value` flags. `Template.fromStack` also rejects
 * a dependency cycle, which CloudFormation would only report at deploy time.
 */
export function synthesize(context: Record<string, unknown> = {}): SynthesizedStack {
  const app = new App({ context: { ...featureFlags(), 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new TransferStack(app, 'TransferTest');
  const template = Template.fromStack(stack);
  const functionIds: Record<string, string> = {};
  const aliasIds: Record<string, string> = {};
  for (const [name, fn] of Object.entries(stack.functions)) {
    functionIds[name] = logicalIdOf(stack, fn);
    aliasIds[name] = resourceIdOf(stack, fn.live);
  }
  return { stack, template, functionIds, aliasIds };
}

/** How the template names an alias where a function name is expected (an event source mapping's `FunctionName`): `<function name>:live`. */
export function aliasFunctionName(aliasId: string): unknown {
  return { 'Fn::Join': ['', [{ 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: aliasId }] }] }, `:${LIVE_ALIAS}`]] };
}

/** The logical id of a construct's own CloudFormation resource (a queue's, a table's). */
export function resourceIdOf(stack: TransferStack, construct: Construct): string {
  const resource = construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return stack.getLogicalId(resource);
}

function logicalIdOf(stack: TransferStack, fn: Construct): string {
  const resource = fn.node.defaultChild;
  if (!(resource instanceof CfnFunction)) throw new Error(`${fn.node.path} has no CfnFunction`);
  return stack.getLogicalId(resource);
}

/** A template resource as the assertions library returns it. */
export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export function resourcesOf(template: Template, type?: string): Record<string, TemplateResource> {
  const all = template.toJSON() as { Resources: Record<string, TemplateResource> };
  return Object.fromEntries(Object.entries(all.Resources).filter(([, resource]) => type === undefined || resource.Type === type));
}

export function resourceById(template: Template, logicalId: string): TemplateResource {
  const resource = resourcesOf(template)[logicalId];
  if (resource === undefined) throw new Error(`No resource ${logicalId}`);
  return resource;
}

/** Pseudo parameters of an imaginary deployment, for turning intrinsics into strings. */
export const PSEUDO_REFS = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '000000000000',
  'AWS::URLSuffix': 'amazonaws.com',
} as const;

/** A policy statement as the template gives it. */
export interface Statement {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: unknown;
}

export const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** Every statement attached to the role `roleId`: its inline policies and every `AWS::IAM::Policy` naming it. */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  const properties = resourceById(template, roleId).Properties ?? {};
  const inline = (properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
  const attached = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((policy) => asList(policy.Properties?.Roles).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId })))
    .map((policy) => policy.Properties?.PolicyDocument as { Statement: Statement[] });
  return [...inline.map((policy) => policy.PolicyDocument), ...attached].flatMap((document) => document.Statement);
}

/** The logical id of the role a resource's `property` (`Role`, `RoleArn`) points at. */
export function roleIdOf(resource: { Properties?: Record<string, unknown> }, property: string): string {
  const role = resource.Properties?.[property] as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const roleId = role?.['Fn::GetAtt']?.[0];
  if (roleId === undefined) throw new Error(`${property} is not a role of this stack: ${JSON.stringify(role)}`);
  return roleId;
}

/** The actions each function's role is allowed, by the function's kebab-case name. */
export function allowedActionsByFunction(synthesized: SynthesizedStack): Record<string, Set<string>> {
  return Object.fromEntries(
    Object.entries(synthesized.functionIds).map(([name, logicalId]) => {
      const statements = statementsOfRole(synthesized.template, roleIdOf(resourceById(synthesized.template, logicalId), 'Role'));
      const actions = statements.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => asList(statement.Action) as string[]);
      return [name, new Set(actions)];
    }),
  );
}

/** The resources each function's role may perform `action` on, as the template gives them, by the function's kebab-case name. */
export function allowedResourcesByFunction(synthesized: SynthesizedStack, action: string): Record<string, unknown[]> {
  return Object.fromEntries(
    Object.entries(synthesized.functionIds).map(([name, logicalId]) => {
      const statements = statementsOfRole(synthesized.template, roleIdOf(resourceById(synthesized.template, logicalId), 'Role'));
      const granting = statements.filter((statement) => statement.Effect === 'Allow' && asList(statement.Action).includes(action));
      return [name, granting.flatMap((statement) => asList(statement.Resource))];
    }),
  );
}
