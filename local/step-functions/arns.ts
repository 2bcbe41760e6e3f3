export interface StateMachineArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

const STATE_MACHINE_ARN = /^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):stateMachine:([^:\s]{1,80})$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}$/;
// Characters the real service rejects in execution names.
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/u;

function hasControlCharacter(value: string): boolean {
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

export function parseStateMachineArn(arn: string): StateMachineArnParts | undefined {
  const match = STATE_MACHINE_ARN.exec(arn);
  if (!match) return undefined;
  const [, partition = '', region = '', account = '', name = ''] = match;
  return { partition, region, account, name };
}

export function isStateMachineArn(arn: string): boolean {
  return STATE_MACHINE_ARN.test(arn);
}

export function isExecutionArn(arn: string): boolean {
  return EXECUTION_ARN.test(arn);
}

export function executionArnFor(stateMachine: StateMachineArnParts, executionName: string): string {
  const { partition, region, account, name } = stateMachine;
  return `arn:${partition}:states:${region}:${account}:execution:${name}:${executionName}`;
}

export function isValidExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !INVALID_NAME_CHARACTERS.test(name) && !hasControlCharacter(name);
}

/**
 * What a Lambda FunctionName (a name, a partial or a full ARN, each optionally qualified by a version
 * or alias) invokes: the bare `name`, and `key`, which is `name:qualifier` for a qualified reference.
 * `$LATEST` is the unqualified function, as on Lambda.
 */
export function lambdaFunctionReference(reference: string): { name: string; key: string } {
  const match = /(?:^|:)function:([^:]+)(?::([^:]+))?$/.exec(reference) ?? /^([^:]+)(?::([^:]+))?$/.exec(reference);
  const name = match?.[1] ?? reference;
  const qualifier = match?.[2];
  return { name, key: qualifier === undefined || qualifier === '$LATEST' ? name : `${name}:${qualifier}` };
}
