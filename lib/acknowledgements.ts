import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The shortest reason an acknowledgement may carry; a reason must say why, not just "by design". */
export const MIN_REASON_LENGTH = 20;

/**
 * Acknowledges one cdk-nag AwsSolutions finding on `scope` (and only its subtree) with the reason it
 * is accepted. Findings of rules that report several per resource (IAM4, IAM5) need their full id,
 * e.g. `AwsSolutions-IAM5[Resource::*]`: see {@link acknowledgeWildcardResources}.
 */
export function acknowledge(scope: IConstruct, id: `AwsSolutions-${string}`, reason: string): void {
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new Error(`The acknowledgement of ${id} on ${scope.node.path} needs a reason of at least ${MIN_REASON_LENGTH} characters.`);
  }
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges `AwsSolutions-IAM5` (wildcard permissions) for exactly these resource ARNs on the
 * policy `scope`: each ARN is rendered as cdk-nag renders it (`<Logical.Arn>`, `<AWS::Region>`),
 * so any other wildcard resource on the same policy is still reported.
 */
export function acknowledgeWildcardResources(scope: IConstruct, resources: readonly string[], reason: string): void {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    acknowledge(scope, `AwsSolutions-IAM5[Resource::${flattenReference(stack.resolve(resource))}]`, reason);
  }
}

/** A resolved CloudFormation value as one string, the way cdk-nag names findings (its `flattenCfnReference`). */
export function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      return (join[1] as unknown[]).map(flattenReference).join(join[0]);
    }
    if (record['Fn::Sub'] !== undefined) return flattenReference(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flattenReference(getAtt[0])}.${flattenReference(getAtt[1])}>`;
    if (record['Fn::ImportValue'] !== undefined) return flattenReference(record['Fn::ImportValue']);
    if (record.Ref !== undefined) return `<${flattenReference(record.Ref)}>`;
  }
  return JSON.stringify(node);
}
